package gc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// env is a registry and a collector over one store and one blob store.
type env struct {
	t     testing.TB
	ctx   context.Context
	dir   string
	store kv.Store
	blobs blobstore.Store
	fs    *blobstore.FS  // blobs, when they are local files; nil on S3
	s3cfg s3store.Config // the bucket, on S3
	reg   *engine.Registry
	gc    *Collector
	clock *clock.Clock
}

type envOptions struct {
	gc       Options
	disk     bool // Badger on disk instead of in memory
	postgres bool // PostgreSQL (pgtest) instead of Badger
	s3       bool // a bucket on a versitygw (s3test) instead of local files
	// deletes, when set, watches every blob deletion of the collector:
	// the blob's record must be gone before its object is.
	deletes  *deleteOrder
	realTime bool // the real clock instead of a settable one
	offline  bool // Offline repos instead of the registry's actors
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), dir: t.TempDir()}
	var err error
	switch {
	case o.postgres:
		e.store = enginetest.Postgres(t, pgtest.Database(t), 0)
	case o.disk:
		s := enginetest.Open(t, e.dir)
		e.store, e.fs = s.KV, s.Blobs
	default:
		e.store = enginetest.Memory(t)
	}
	if o.s3 {
		e.s3cfg = s3test.Start(t).Bucket(t, "mcr-gc")
		s3, err := s3store.New(e.s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.blobs = s3
	} else {
		if e.fs == nil {
			if e.fs, err = blobstore.Open(e.dir, nil); err != nil {
				t.Fatal(err)
			}
		}
		e.blobs = e.fs
	}
	now := time.Now
	if !o.realTime {
		// The real time to start from: file ages (orphans, staging files)
		// are real modification times.
		e.clock = clock.At(time.Now())
		now = e.clock.Now
	}
	e.reg = engine.New(e.store, e.blobs, engine.Options{Now: now})
	o.gc.Now = now
	var repos Repos = e.reg
	if o.offline {
		repos = Offline{}
	}
	var gcBlobs blobstore.Store = e.blobs
	if o.deletes != nil {
		gcBlobs = o.deletes.watch(e.store, e.blobs)
	}
	e.gc = New(e.store, gcBlobs, repos, o.gc)
	t.Cleanup(func() {
		if err := e.reg.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// blob uploads data into repo and returns its descriptor.
func (e *env) blob(repo string, data []byte) v1.Descriptor {
	e.t.Helper()
	d := digest.FromBytes(data)
	if err := e.reg.PutBlob(e.ctx, repo, d, bytes.NewReader(data), int64(len(data))); err != nil {
		e.t.Fatalf("put blob %s into %s: %v", d, repo, err)
	}
	return v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}
}

// image builds an OCI image manifest over already uploaded blobs.
func image(config v1.Descriptor, layers []v1.Descriptor, subject *v1.Descriptor) []byte {
	config.MediaType = v1.MediaTypeImageConfig
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[`, v1.MediaTypeImageManifest, desc(config))
	for i, l := range layers {
		if i > 0 {
			m += ","
		}
		m += desc(l)
	}
	m += "]"
	if subject != nil {
		m += `,"subject":` + desc(*subject)
	}
	return []byte(m + "}")
}

// index builds an OCI image index.
func index(children ...v1.Descriptor) []byte {
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[`, v1.MediaTypeImageIndex)
	for i, c := range children {
		if i > 0 {
			m += ","
		}
		m += desc(c)
	}
	return []byte(m + "]}")
}

func desc(d v1.Descriptor) string {
	return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, d.MediaType, d.Digest, d.Size)
}

// manifest pushes payload into repo under tag ("" pushes by digest) and
// returns its descriptor.
func (e *env) manifest(repo, tag string, payload []byte) v1.Descriptor {
	e.t.Helper()
	d, err := e.push(repo, tag, payload)
	if err != nil {
		e.t.Fatalf("push manifest into %s: %v", repo, err)
	}
	return d
}

func (e *env) push(repo, tag string, payload []byte) (v1.Descriptor, error) {
	d := digest.FromBytes(payload)
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: d}
	}
	mt := v1.MediaTypeImageManifest
	if bytes.Contains(payload, []byte(`"manifests"`)) {
		mt = v1.MediaTypeImageIndex
	}
	_, err := e.reg.PutManifest(e.ctx, repo, ref, mt, payload, nil)
	return v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(payload))}, err
}

// simpleImage uploads a config and the given layers (plus one of its own)
// into repo and pushes the manifest under tag.
func (e *env) simpleImage(repo, tag string, shared ...[]byte) (v1.Descriptor, []v1.Descriptor) {
	e.t.Helper()
	cfg := e.blob(repo, randBytes(64))
	var layers []v1.Descriptor
	for _, s := range shared {
		layers = append(layers, e.blob(repo, s))
	}
	layers = append(layers, e.blob(repo, randBytes(256)))
	m := e.manifest(repo, tag, image(cfg, layers, nil))
	return m, append([]v1.Descriptor{cfg}, layers...)
}

func (e *env) deleteManifest(repo string, d digest.Digest) {
	e.t.Helper()
	if err := e.reg.DeleteManifest(e.ctx, repo, names.Reference{Digest: d}); err != nil {
		e.t.Fatalf("delete %s@%s: %v", repo, d, err)
	}
}

func (e *env) run(dry bool) *Report {
	e.t.Helper()
	rep, err := e.gc.Run(e.ctx, RunOptions{DryRun: dry})
	if err != nil {
		e.t.Fatalf("gc run (dry %v): %v", dry, err)
	}
	return rep
}

// readable checks that repo serves blob d with the right content.
func (e *env) readable(repo string, d digest.Digest) error {
	f, size, err := e.reg.OpenBlob(e.ctx, repo, d)
	if err != nil {
		return fmt.Errorf("open %s@%s: %w", repo, d, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size || digest.NewDigest(digest.SHA256, h) != d {
		return fmt.Errorf("blob %s@%s: %d bytes with digest %s", repo, d, n, digest.NewDigest(digest.SHA256, h))
	}
	return nil
}

// hasRecord reports whether blob d has a record, and whether its file exists.
func (e *env) hasRecord(d digest.Digest) (record, file bool) {
	e.t.Helper()
	record, err := kv.Read(e.ctx, e.store, func(t kv.Reader) (bool, error) { return t.Has(kv.BlobKey(d.String())) })
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.blobs.Stat(e.ctx, d)
	if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		e.t.Fatal(err)
	}
	return record, err == nil
}

// keys lists every key under prefix.
func (e *env) keys(prefix []byte) []string {
	e.t.Helper()
	var out []string
	err := e.store.View(e.ctx, func(t kv.Reader) error {
		return t.ScanKeys(prefix, nil, func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// dump is every key and value, to check a dry run wrote nothing.
func (e *env) dump() map[string]string {
	e.t.Helper()
	m := map[string]string{}
	err := e.store.View(e.ctx, func(t kv.Reader) error {
		return t.Scan(nil, nil, func(k, v []byte) error {
			m[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}
