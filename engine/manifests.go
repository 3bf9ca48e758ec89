package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// PutResult is what a manifest push answers with.
type PutResult struct {
	Digest  digest.Digest
	Subject digest.Digest // "" when the manifest has no subject
	Tags    []string      // the tags now pointing at it
}

// PutManifest validates payload and commits it to repo under ref, plus any
// extra tags (the ?tag= parameters of a push by digest). Validation that
// needs no state happens here, on the request's goroutine; the existence
// checks and every write happen in one transaction on repo's actor.
func (r *Registry) PutManifest(ctx context.Context, repo string, ref names.Reference, contentType string, payload []byte, tags []string) (*PutResult, error) {
	if len(payload) > manifest.MaxSize {
		return nil, errcode.New(errcode.TooLarge, "manifest exceeds %d bytes", manifest.MaxSize)
	}
	if err := r.admit(int64(len(payload))); err != nil {
		return nil, err
	}
	m, err := manifest.Parse(contentType, payload)
	if err != nil {
		return nil, manifestError(err)
	}
	alg := digest.Canonical
	if ref.IsDigest() {
		alg = ref.Digest.Algorithm()
	}
	d := alg.FromBytes(payload)
	if ref.IsDigest() && d != ref.Digest {
		return nil, digestMismatch(ref.Digest, d)
	}
	if !ref.IsDigest() {
		tags = append([]string{ref.Tag}, tags...)
	}
	for _, tag := range tags {
		if err := names.Tag(tag); err != nil {
			return nil, err
		}
	}
	res := &PutResult{Digest: d, Tags: tags}
	rec := kv.ManifestRecord{MediaType: m.MediaType, ArtifactType: m.ArtifactType, Payload: payload}
	var referrer []byte
	if m.Subject != nil {
		res.Subject = m.Subject.Digest
		rec.Subject = m.Subject.Digest.String()
		if referrer, err = json.Marshal(m.Descriptor(d, int64(len(payload)))); err != nil {
			return nil, err
		}
	}
	var blobs []digest.Digest
	for _, b := range m.Blobs() {
		blobs = append(blobs, b.Digest)
	}
	err = r.mutate(ctx, repo, blobs, func(t kv.Txn) error {
		now := r.now()
		rec.Created = now.UnixNano()
		if err := r.checkReferences(t, repo, m); err != nil {
			return err
		}
		if err := t.Set(kv.ManifestKey(repo, d.String()), rec.Encode()); err != nil {
			return err
		}
		for _, tag := range tags {
			if err := t.Set(kv.TagKey(repo, tag), []byte(d.String())); err != nil {
				return err
			}
		}
		if referrer != nil {
			if err := t.Set(kv.ReferrerKey(repo, rec.Subject, d.String()), referrer); err != nil {
				return err
			}
		}
		return ensureRepo(t, repo, now)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkReferences requires every blob and child manifest that m names to
// be in repo (unless sparse manifests are allowed), and bumps each blob's
// LastLinked inside the commit's transaction: a GC sweep that decided to
// delete one of them conflicts with this transaction, so either the sweep
// or the push retries against the other's result (docs/design.md §5).
func (r *Registry) checkReferences(t kv.Txn, repo string, m *manifest.Manifest) error {
	now := r.now().UnixNano()
	blobs, children := m.Blobs(), m.Children()
	// Every key the check needs, in one read (kv.GetMany): per blob its
	// link and record, then each child manifest.
	keys := make([][]byte, 0, 2*len(blobs)+len(children))
	for _, b := range blobs {
		keys = append(keys, kv.LinkKey(repo, b.Digest.String()), kv.BlobKey(b.Digest.String()))
	}
	for _, c := range children {
		keys = append(keys, kv.ManifestKey(repo, c.Digest.String()))
	}
	vs, err := kv.GetMany(t, keys...)
	if err != nil {
		return err
	}
	for i, b := range blobs {
		link, v := vs[2*i], vs[2*i+1]
		if link == nil || v == nil {
			if r.opts.AllowSparse {
				continue
			}
			return errcode.New(errcode.ManifestBlobUnknown, "blob unknown to registry").WithDetail(map[string]string{"digest": b.Digest.String()})
		}
		rec, err := kv.DecodeBlob(v)
		if err != nil {
			return err
		}
		if rec.Size != b.Size {
			return errcode.New(errcode.ManifestInvalid, "descriptor size %d does not match blob size %d", b.Size, rec.Size).
				WithDetail(map[string]string{"digest": b.Digest.String()})
		}
		rec.LastLinked = now
		if err := t.Set(kv.BlobKey(b.Digest.String()), rec.Encode()); err != nil {
			return err
		}
	}
	for i, c := range children {
		if vs[2*len(blobs)+i] == nil && !r.opts.AllowSparse {
			return errcode.New(errcode.ManifestBlobUnknown, "manifest unknown to registry").WithDetail(map[string]string{"digest": c.Digest.String()})
		}
	}
	return nil
}

// manifestError maps a manifest.Parse error to a registry error.
func manifestError(err error) error {
	var me *manifest.Error
	if errors.As(err, &me) {
		return errcode.Wrap(errcode.ManifestInvalid, err, "manifest invalid").WithDetail(map[string]string{"reason": me.Detail})
	}
	return errcode.Wrap(errcode.ManifestInvalid, err, "manifest invalid")
}

// DeleteManifest deletes a tag (ref is a tag) or a manifest with every tag
// pointing at it and its referrer entry (ref is a digest).
func (r *Registry) DeleteManifest(ctx context.Context, repo string, ref names.Reference) error {
	if ref.IsDigest() {
		if err := r.untagInSteps(ctx, repo, ref.Digest.String()); err != nil {
			return err
		}
	}
	return r.mutate(ctx, repo, nil, func(t kv.Txn) error {
		if !ref.IsDigest() {
			key := kv.TagKey(repo, ref.Tag)
			ok, err := t.Has(key)
			if err != nil {
				return err
			}
			if !ok {
				return r.unknown(t, repo, kv.ErrNotFound, tagUnknown(ref.Tag))
			}
			return t.Delete(key)
		}
		d := ref.Digest.String()
		v, err := t.Get(kv.ManifestKey(repo, d))
		if err != nil {
			return r.unknown(t, repo, err, manifestUnknown(ref.Digest))
		}
		rec, err := kv.DecodeManifest(v)
		if err != nil {
			return err
		}
		if err := t.Delete(kv.ManifestKey(repo, d)); err != nil {
			return err
		}
		if rec.Subject != "" {
			if err := t.Delete(kv.ReferrerKey(repo, rec.Subject, d)); err != nil {
				return err
			}
		}
		return r.untag(t, repo, d)
	})
}

// untagStep is how many tags one transaction of untagInSteps removes:
// well inside what a store commits at once (kv.ErrTooLarge; Badger takes
// some 6 500 deletes).
const untagStep = 2048

// untagInSteps removes, untagStep at a time, the tags of repo that point
// at digest d while more than untagStep remain, so that the transaction
// that deletes the manifest stays small whatever its tag count (the
// bench's tag-list scenario puts 10 000 tags on one manifest). A crash
// or an error between steps leaves the manifest with fewer tags and no
// success answered; the client's retried DELETE finishes it. The common
// case, a few tags, costs one snapshot read: no transaction of its own,
// so no commit to wait for.
func (r *Registry) untagInSteps(ctx context.Context, repo, d string) error {
	var many bool
	if err := r.kv.View(ctx, func(t kv.Reader) error {
		keys, err := tagsAt(t, repo, d)
		many = len(keys) > untagStep
		return err
	}); err != nil || !many {
		return err
	}
	for {
		var more bool
		err := r.mutate(ctx, repo, nil, func(t kv.Txn) error {
			keys, err := tagsAt(t, repo, d)
			if more = len(keys) > untagStep; err != nil || !more {
				return err
			}
			for _, k := range keys[:untagStep] {
				if err := t.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || !more {
			return err
		}
	}
}

// tagsAt lists the keys of repo's tags that point at digest d, at most
// untagStep+1 of them: enough to tell whether more than a step remain.
func tagsAt(t kv.Reader, repo, d string) ([][]byte, error) {
	var keys [][]byte
	err := t.Scan(kv.TagPrefix(repo), nil, func(k, v []byte) error {
		if string(v) != d {
			return nil
		}
		keys = append(keys, slices.Clone(k))
		if len(keys) > untagStep {
			return kv.ErrStop
		}
		return nil
	})
	return keys, err
}

// untag removes the tags of repo that point at digest d. It walks the
// repository's tags: deleting a manifest by digest is rare next to tag
// reads, so no reverse index is kept for it.
func (r *Registry) untag(t kv.Txn, repo, d string) error {
	_, err := kv.DeleteWhere(t, kv.TagPrefix(repo), func(_, v []byte) bool { return string(v) == d })
	return err
}
