package engine

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Blobs pushed without an upload session, linked into a repository from
// another, and unlinked. Sessions (POST, PATCH, PUT) are in upload.go;
// the operator's view of them in uploadinfo.go.

// PutBlob stores a whole blob sent in one request without an upload
// session: the single POST ?digest= of spec "Pushing a blob
// monolithically". The spec's other monolithic form, a POST and then one
// PUT carrying the whole body, opens a session and ends in FinishUpload.
func (r *Registry) PutBlob(ctx context.Context, repo string, d digest.Digest, body io.Reader, length int64) error {
	if err := r.admit(length); err != nil {
		return err
	}
	id := newID()
	f, err := r.blobs.Stage(ctx, id, blobstore.Position{})
	if err != nil {
		return diskspace.Classify(err)
	}
	committed := false
	defer func() {
		_ = f.Close()
		if !committed {
			_ = r.blobs.RemoveStaging(context.WithoutCancel(ctx), id)
		}
	}()
	h := d.Algorithm().Hash()
	n, err := r.stream(ctx, r.guard(f), body, length, h)
	if err != nil {
		return err
	}
	if length >= 0 && n != length {
		return errcode.New(errcode.SizeInvalid, "body has %d bytes, Content-Length said %d", n, length)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return digestMismatch(d, got)
	}
	existed, err := f.Commit(ctx, d)
	if err != nil {
		return diskspace.Classify(err)
	}
	committed = true
	return r.updateBlobs(ctx, []digest.Digest{d}, func(t kv.Txn) error { return r.link(ctx, t, repo, d, n, existed) })
}

// link records that blob d (of size bytes, already committed to the blob
// store) is in repo. It rewrites the blob record's LastLinked in the same
// transaction, which is what makes a concurrent GC sweep of d conflict
// with it (docs/design.md §5). existed is what the blob's Commit said:
// the file was there before it (checkSweep).
func (r *Registry) link(ctx context.Context, t kv.Txn, repo string, d digest.Digest, size int64, existed bool) error {
	// One read for the three keys the link depends on (kv.GetMany).
	vs, err := kv.GetMany(t, kv.SweepKey(d.String()), kv.BlobKey(d.String()), kv.RepoKey(repo))
	if err != nil {
		return err
	}
	blob, repoRec := vs[1], vs[2]
	if err := r.checkSweep(ctx, vs[0] != nil, blob != nil, existed, d); err != nil {
		return err
	}
	now := r.now()
	rec := kv.BlobRecord{Size: size, Created: now.UnixNano()}
	if blob != nil {
		if rec, err = kv.DecodeBlob(blob); err != nil {
			return err
		}
	}
	rec.LastLinked = now.UnixNano()
	if err := t.Set(kv.BlobKey(d.String()), rec.Encode()); err != nil {
		return err
	}
	if err := t.Set(kv.LinkKey(repo, d.String()), nil); err != nil {
		return err
	}
	if err := t.Set(kv.InverseLinkKey(d.String(), repo), nil); err != nil {
		return err
	}
	if repoRec != nil {
		return nil
	}
	return createRepo(t, repo, now)
}

// MountBlob links blob d into repo from repository from, or from any
// repository holding it when from is empty (OCI 1.1 automatic mount). It
// reports false, with no error, when the blob is not mountable: the caller
// then opens an upload session instead (spec: 202 fallback). canPull, when
// not nil, limits the candidate source repositories.
func (r *Registry) MountBlob(ctx context.Context, repo, from string, d digest.Digest, canPull func(repo string) bool) (bool, error) {
	if err := r.admit(0); err != nil {
		return false, err
	}
	mounted := false
	err := r.updateBlobs(ctx, []digest.Digest{d}, func(t kv.Txn) error {
		mounted = false
		src, err := r.mountSource(t, from, d, canPull)
		if err != nil || src == "" {
			return err
		}
		v, err := t.Get(kv.BlobKey(d.String()))
		if err != nil {
			return err // kv.ErrNotFound: a record swept by GC; not mountable
		}
		rec, err := kv.DecodeBlob(v)
		if err != nil {
			return err
		}
		mounted = true
		return r.link(ctx, t, repo, d, rec.Size, true) // a file nothing here placed
	})
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	return mounted, err
}

// mountSource finds a repository that links d: from itself, or the first
// permitted one when from is empty. "" means none.
func (r *Registry) mountSource(t kv.Reader, from string, d digest.Digest, canPull func(string) bool) (string, error) {
	if from != "" {
		ok, err := t.Has(kv.LinkKey(from, d.String()))
		if err != nil || !ok || (canPull != nil && !canPull(from)) {
			return "", err
		}
		return from, nil
	}
	src := ""
	prefix := kv.InverseLinkPrefix(d.String())
	err := t.ScanKeys(prefix, nil, func(k []byte) error {
		if repo := kv.Suffix(k, prefix); canPull == nil || canPull(repo) {
			src = repo
			return kv.ErrStop
		}
		return nil
	})
	return src, err
}

// DeleteBlob unlinks blob d from repo. The bytes stay until garbage
// collection finds no repository linking them.
func (r *Registry) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	return r.mutate(ctx, repo, nil, func(t kv.Txn) error {
		ok, err := t.Has(kv.LinkKey(repo, d.String()))
		if err != nil {
			return err
		}
		if !ok {
			return r.unknown(t, repo, kv.ErrNotFound, blobUnknown(d))
		}
		if err := t.Delete(kv.LinkKey(repo, d.String())); err != nil {
			return err
		}
		return t.Delete(kv.InverseLinkKey(d.String(), repo))
	})
}
