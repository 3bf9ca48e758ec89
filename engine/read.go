package engine

import (
	"context"
	"encoding/json"
	"errors"
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

// GetManifest resolves ref (a tag or a digest) in repo from one snapshot.
func (r *Registry) GetManifest(ctx context.Context, repo string, ref names.Reference) (*Manifest, error) {
	var m *Manifest
	err := r.kv.View(ctx, func(t kv.Reader) error {
		d := ref.Digest
		if !ref.IsDigest() {
			v, err := t.Get(kv.TagKey(repo, ref.Tag))
			if err != nil {
				return r.unknown(t, repo, err, errcode.New(errcode.ManifestUnknown, "manifest unknown").WithDetail(map[string]string{"tag": ref.Tag}))
			}
			d = digest.Digest(v)
		}
		v, err := t.Get(kv.ManifestKey(repo, d.String()))
		if err != nil {
			return r.unknown(t, repo, err, errcode.New(errcode.ManifestUnknown, "manifest unknown").WithDetail(map[string]string{"digest": d.String()}))
		}
		rec, err := kv.DecodeManifest(v)
		if err != nil {
			return err
		}
		m = &Manifest{Digest: d, MediaType: rec.MediaType, Payload: rec.Payload}
		return nil
	})
	return m, err
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

// StatBlob returns the size of blob d if repo may serve it.
func (r *Registry) StatBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	var size int64
	err := r.kv.View(ctx, func(t kv.Reader) error {
		ok, err := t.Has(kv.LinkKey(repo, d.String()))
		if err != nil {
			return err
		}
		if !ok {
			return r.unknown(t, repo, kv.ErrNotFound, blobUnknown(d))
		}
		v, err := t.Get(kv.BlobKey(d.String()))
		if err != nil {
			return notFound(err, blobUnknown(d))
		}
		rec, err := kv.DecodeBlob(v)
		size = rec.Size
		return err
	})
	return size, err
}

// OpenBlob opens blob d of repo for reading and returns its size. The
// caller closes the file.
func (r *Registry) OpenBlob(ctx context.Context, repo string, d digest.Digest) (*os.File, int64, error) {
	size, err := r.StatBlob(ctx, repo, d)
	if err != nil {
		return nil, 0, err
	}
	f, err := r.blobs.Open(d)
	if errors.Is(err, blobstore.ErrNotFound) {
		// The record exists but the file does not: GC removed it between
		// our snapshot and the open (records go first, files after).
		return nil, 0, blobUnknown(d)
	}
	return f, size, err
}

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

// Tags lists repo's tags in lexical order.
func (r *Registry) Tags(ctx context.Context, repo, after string, n int) (Page, error) {
	var p Page
	err := r.kv.View(ctx, func(t kv.Reader) error {
		ok, err := repoExists(t, repo)
		if err != nil {
			return err
		}
		if !ok {
			return nameUnknown(repo)
		}
		p, err = list(t, kv.TagPrefix(repo), after, n)
		return err
	})
	return p, err
}

// Catalog lists repositories in lexical order.
func (r *Registry) Catalog(ctx context.Context, after string, n int) (Page, error) {
	var p Page
	err := r.kv.View(ctx, func(t kv.Reader) error {
		var err error
		p, err = list(t, kv.RepoPrefix(), after, n)
		return err
	})
	return p, err
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
