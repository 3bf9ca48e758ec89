package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Manifest is a stored manifest as served to a client.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Payload   []byte
}

// GetManifest resolves ref (a tag or a digest) in repo. The result may be
// shared (manifestcache.go): callers must not modify it.
//
// On a store whose snapshots cost no round trip and that no other process
// writes (Badger) it is one snapshot that reads the tag, then its manifest
// through the manifest cache, and the repository's record only when one
// of them is missing (to tell NAME_UNKNOWN from the more specific error):
// two lookups for a pull by tag, one when the manifest is cached.
//
// Otherwise (PostgreSQL) each read is one statement (kv.ReadKeys) of the
// keys it needs beside the repository's record, so a tag is resolved, then
// its manifest read, in two snapshots. That answers what one snapshot at
// the first would have: a manifest's record under its digest does not
// change while it exists (the digest is of its bytes). Only when the tag's
// manifest is gone by the second read (the tag moved and the manifest was
// deleted meanwhile) is the tag resolved again, with its manifest, from
// one snapshot.
func (r *Registry) GetManifest(ctx context.Context, repo string, ref names.Reference) (*Manifest, error) {
	if r.manifests != nil {
		return r.getCachedManifest(ctx, repo, ref)
	}
	d := ref.Digest
	if !ref.IsDigest() {
		vs, err := kv.ReadKeys(ctx, r.kv, kv.TagKey(repo, ref.Tag), kv.RepoKey(repo))
		if err != nil {
			return nil, err
		}
		if vs[0] == nil {
			return nil, missing(repo, vs[1] != nil, tagUnknown(ref.Tag))
		}
		d = digest.Digest(vs[0])
	}
	vs, err := kv.ReadKeys(ctx, r.kv, kv.ManifestKey(repo, d.String()), kv.RepoKey(repo))
	switch {
	case err != nil:
		return nil, err
	case vs[0] != nil:
		return decodeManifest(d, vs[0])
	case !ref.IsDigest():
		return r.resolveManifest(ctx, repo, ref.Tag)
	}
	return nil, missing(repo, vs[1] != nil, manifestUnknown(d))
}

// resolveManifest reads tag and its manifest from one snapshot.
func (r *Registry) resolveManifest(ctx context.Context, repo, tag string) (*Manifest, error) {
	return kv.Read(ctx, r.kv, func(t kv.Reader) (*Manifest, error) {
		v, err := t.Get(kv.TagKey(repo, tag))
		if err != nil {
			return nil, r.unknown(t, repo, err, tagUnknown(tag))
		}
		return r.readManifest(t, repo, digest.Digest(v))
	})
}

// readManifest reads manifest d of repo in t.
func (r *Registry) readManifest(t kv.Reader, repo string, d digest.Digest) (*Manifest, error) {
	v, err := t.Get(kv.ManifestKey(repo, d.String()))
	if err != nil {
		return nil, r.unknown(t, repo, err, manifestUnknown(d))
	}
	return decodeManifest(d, v)
}

func decodeManifest(d digest.Digest, v []byte) (*Manifest, error) {
	rec, err := kv.DecodeManifest(v)
	if err != nil {
		return nil, err
	}
	return &Manifest{Digest: d, MediaType: rec.MediaType, Payload: rec.Payload}, nil
}

func tagUnknown(tag string) *errcode.Error {
	return errcode.New(errcode.ManifestUnknown, "manifest unknown").WithDetail(map[string]string{"tag": tag})
}

func manifestUnknown(d digest.Digest) *errcode.Error {
	return errcode.New(errcode.ManifestUnknown, "manifest unknown").WithDetail(map[string]string{"digest": d.String()})
}

// missing is e, or NAME_UNKNOWN when the repository does not exist.
func missing(repo string, exists bool, e *errcode.Error) error {
	if !exists {
		return nameUnknown(repo)
	}
	return e
}

// unknown picks between NAME_UNKNOWN (the repository does not exist) and
// the more specific e when a lookup in repo missed.
func (r *Registry) unknown(t kv.Reader, repo string, err error, e *errcode.Error) error {
	if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	ok, herr := repoExists(t, repo)
	if herr != nil {
		return herr
	}
	if !ok {
		return nameUnknown(repo)
	}
	return e
}

func nameUnknown(repo string) *errcode.Error {
	return errcode.New(errcode.NameUnknown, "repository name not known to registry").WithDetail(map[string]string{"name": repo})
}

// StatBlob returns the size of blob d if repo may serve it, from one
// snapshot of its link, its record and the repository's record (on
// PostgreSQL one statement: kv.ReadKeys).
func (r *Registry) StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	vs, err := kv.ReadKeys(ctx, r.kv, kv.LinkKey(repo, d.String()), kv.BlobKey(d.String()), kv.RepoKey(repo))
	if err != nil {
		return 0, err
	}
	if vs[0] == nil {
		return 0, missing(repo, vs[2] != nil, blobUnknown(d))
	}
	if vs[1] == nil {
		return 0, blobUnknown(d)
	}
	rec, err := kv.DecodeBlob(vs[1])
	return rec.Size, err
}

// OpenBlob opens blob d of repo for reading and returns its size. The
// caller closes the reader. On a local store it is the *os.File itself,
// which the HTTP layer hands to sendfile; on others it fetches only the
// bytes from where it was seeked to.
func (r *Registry) OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadSeekCloser, int64, error) {
	size, err := r.StatBlob(ctx, repo, d)
	if err != nil {
		return nil, 0, err
	}
	var f io.ReadSeekCloser
	if fo, ok := r.blobs.(blobstore.FileOpener); ok {
		var file *os.File
		if file, err = fo.Open(d); err == nil {
			if size >= prefetchMin {
				blobstore.Prefetch(file, size)
			}
			f = file
		}
	} else {
		// The body is streamed after the handler returned, when the
		// request's context has ended; closing the reader (which the
		// HTTP server does when the stream ends or the client goes)
		// stops the fetch instead.
		f, err = r.blobs.Reader(context.WithoutCancel(ctx), d)
	}
	if errors.Is(err, blobstore.ErrNotFound) {
		// The record exists but the file does not: GC removed it between
		// our snapshot and the open (records go first, files after).
		return nil, 0, blobUnknown(d)
	}
	return f, size, err
}

// BlobURL returns a short-lived URL from which a client fetches blob d of
// repo straight from the blob store, or "" when the store cannot give one
// (local files) or redirects are off: the caller then streams the blob.
func (r *Registry) BlobURL(ctx context.Context, repo string, d digest.Digest) (string, error) {
	p, ok := r.blobs.(blobstore.Presigner)
	if !ok {
		return "", nil
	}
	if _, err := r.StatBlob(ctx, repo, d); err != nil {
		return "", err
	}
	return p.PresignGet(ctx, d)
}

// prefetchMin is the blob size from which OpenBlob has the kernel read
// the whole file ahead; smaller blobs fit in the default readahead.
const prefetchMin = 4 << 20

func blobUnknown(d digest.Digest) *errcode.Error {
	return errcode.New(errcode.BlobUnknown, "blob unknown to registry").WithDetail(map[string]string{"digest": d.String()})
}

// Page is one page of a listing.
type Page struct {
	Items []string
	// More is set when items follow the last one returned.
	More bool
}

// list pages through the keys under prefix, after the item after, at most
// n items (n < 0: all of them). It reads one key past the page to know
// whether another page follows.
func list(t kv.Reader, prefix []byte, after string, n int) (Page, error) {
	var p Page
	if n == 0 {
		return p, nil
	}
	err := t.ScanKeys(prefix, []byte(after), func(k []byte) error {
		if n >= 0 && len(p.Items) == n {
			p.More = true
			return kv.ErrStop
		}
		p.Items = append(p.Items, kv.Suffix(k, prefix))
		return nil
	})
	return p, err
}

// Catalog lists repositories in lexical order.
func (r *Registry) Catalog(ctx context.Context, after string, n int) (Page, error) {
	return kv.Read(ctx, r.kv, func(t kv.Reader) (Page, error) { return list(t, kv.RepoPrefix(), after, n) })
}

// Referrers lists the manifests of repo whose subject is d, keeping those
// of artifactType when it is not empty. A subject with no referrers, or an
// unknown repository, is an empty list (spec: "Listing Referrers").
func (r *Registry) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]v1.Descriptor, error) {
	descs := []v1.Descriptor{}
	err := r.kv.View(ctx, func(t kv.Reader) error {
		return t.Scan(kv.ReferrerPrefix(repo, d.String()), nil, func(_, v []byte) error {
			var desc v1.Descriptor
			if err := json.Unmarshal(v, &desc); err != nil {
				return err
			}
			if artifactType == "" || desc.ArtifactType == artifactType {
				descs = append(descs, desc)
			}
			return nil
		})
	})
	return descs, err
}
