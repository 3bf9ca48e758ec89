package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
)

// TestSnapshotRestoreS3 snapshots a stopped registry on S3 + PostgreSQL
// offline (the blobs are read out of the bucket into the snapshot),
// restores it into a fresh database and an empty bucket, and pulls every
// image over HTTP from a server on the restored stores, checking each
// manifest and blob against its digest. A restore into a bucket that
// holds blobs is refused.
func TestSnapshotRestoreS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, versitygw and a server process")
	}
	ctx := context.Background()
	s3srv := s3test.Start(t)
	// A fresh database each time, over the bucket given.
	envFor := func(bucket s3store.Config) []string { return append(postgresEnv(t), s3Env(bucket)...) }
	config := func(data string, env []string) Config {
		t.Helper()
		c, err := Load("", env)
		if err != nil {
			t.Fatal(err)
		}
		c.Data = data
		return c
	}
	src := config(t.TempDir(), envFor(s3srv.Bucket(t, "mcr-snap-src")))
	store, err := openMetadata(ctx, src, false, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := src.Storage.openBlobs(src.Data, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := engine.New(store, blobs, engine.Options{})
	big := make([]byte, s3store.MinPartSize+4096) // a multipart upload, completed and copied
	_, _ = rand.Read(big)
	shared := bytes.Repeat([]byte("base layer "), 1000)
	images := []image{
		pushImage(t, reg, "team/app", "v1", shared, big),
		pushImage(t, reg, "team/app", "v2", shared, []byte("app v2")),
		pushImage(t, reg, "tools", "latest", shared),
	}
	_ = reg.Close(ctx)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	snap := filepath.Join(t.TempDir(), "snap")
	var out bytes.Buffer
	if err := offlineSnapshot(ctx, src, snap, &out); err != nil {
		t.Fatal(err)
	}
	m, err := snapshot.ReadManifest(snap)
	if err != nil {
		t.Fatal(err)
	}
	// 3 configs + shared + big + app v2; none can be linked out of a bucket.
	if len(m.Blobs) != 6 || m.Copied != 6 {
		t.Fatalf("snapshot manifest %+v\n%s", m, out.String())
	}

	dstBucket := s3srv.Bucket(t, "mcr-snap-dst")
	dstEnv := envFor(dstBucket)
	dst := config(filepath.Join(t.TempDir(), "data"), dstEnv)
	out.Reset()
	if err := restoreSnapshot(ctx, dst, snap, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "every digest verified") {
		t.Fatalf("restore said:\n%s", out.String())
	}
	// The same bucket again, with a new database and data directory:
	// the bucket holds blobs now, so the restore is refused.
	again := config(filepath.Join(t.TempDir(), "data"), envFor(dstBucket))
	if err := restoreSnapshot(ctx, again, snap, io.Discard); err == nil || !strings.Contains(err.Error(), "empty bucket") {
		t.Fatalf("restore into a bucket that holds blobs: %v", err)
	}

	srv := startServer(t, dst.Data, freePort(t), dstEnv...)
	defer func() { _ = srv.cmd.Process.Kill(); _ = srv.cmd.Wait() }()
	base := "http://" + srv.addr
	fetch := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		res, err := http.DefaultClient.Do(req) // follows the 307 to the bucket
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s after the restore: %d, %v", path, res.StatusCode, err)
		}
		return b
	}
	for _, im := range images {
		for _, ref := range []string{im.tag, im.manifest.String()} {
			if got := digestOf(fetch(fmt.Sprintf("/v2/%s/manifests/%s", im.repo, ref))); got != im.manifest.String() {
				t.Errorf("%s:%s after the restore: digest %s, want %s", im.repo, ref, got, im.manifest)
			}
		}
		for d := range im.blobs {
			if got := digestOf(fetch(fmt.Sprintf("/v2/%s/blobs/%s", im.repo, d))); got != d.String() {
				t.Errorf("%s@%s after the restore: digest %s", im.repo, d, got)
			}
		}
	}
}
