package engine

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Upload sessions (spec "Pushing blobs"). A session's record holds the
// number of bytes durably in its staging file and the sha256 state after
// them, so each PATCH resumes hashing where the last stopped and finishing
// an upload never re-reads the file. The record is only advanced after the
// staging file is fsynced: a crash can leave extra bytes past the recorded
// offset, never fewer, and the next write cuts them off.

// Upload describes an open upload session.
type Upload struct {
	ID     string
	Offset int64
}

// StartUpload opens an upload session in repo. The session lives in
// memory until a PATCH writes bytes to it (see pendingSessions): the 202 of
// a POST acknowledges no bytes, so it costs no synced commit, and the
// common POST-then-PUT push commits once, at the PUT.
func (r *Registry) StartUpload(ctx context.Context, repo string) (Upload, error) {
	id := newID()
	state, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return Upload{}, err
	}
	rec := kv.UploadRecord{Repo: repo, Started: r.now().UnixNano(), HashState: state}
	if r.pending.add(id, rec, r.now()) {
		return Upload{ID: id}, nil
	}
	err = r.kv.Update(ctx, func(t kv.Txn) error { return t.Set(kv.UploadKey(id), rec.Encode()) })
	return Upload{ID: id}, err
}

// loadUpload reads session id and checks it belongs to repo. pending says
// the session has no record yet.
func (r *Registry) loadUpload(ctx context.Context, repo, id string) (rec kv.UploadRecord, pending bool, err error) {
	if !blobstore.ValidUploadID(id) {
		return rec, false, uploadUnknown(id)
	}
	// Memory first: the common push (POST then PUT) never has a record,
	// and a session leaves the pending set only once its record is
	// committed (or it is finished), so a miss here finds it in the store.
	if rec, pending = r.pending.get(id); !pending {
		err = r.kv.View(ctx, func(t kv.Reader) error {
			v, err := t.Get(kv.UploadKey(id))
			if err != nil {
				return err
			}
			rec, err = kv.DecodeUpload(v)
			return err
		})
	}
	if errors.Is(err, kv.ErrNotFound) {
		return rec, false, uploadUnknown(id)
	}
	if err == nil && rec.Repo != repo {
		err = uploadUnknown(id)
	}
	return rec, pending, err
}

func uploadUnknown(id string) *errcode.Error {
	return errcode.New(errcode.BlobUploadUnknown, "blob upload unknown to registry").WithDetail(map[string]string{"upload": id})
}

// UploadStatus returns the session's progress.
func (r *Registry) UploadStatus(ctx context.Context, repo, id string) (Upload, error) {
	rec, _, err := r.loadUpload(ctx, repo, id)
	return Upload{ID: id, Offset: rec.Offset}, err
}

// session is an upload being written by one request.
type session struct {
	r    *Registry
	id   string
	rec  kv.UploadRecord
	h    hash.Hash
	file *blobstore.File
	// recorded says the session has a u/ record (it is not pending).
	recorded bool
}

// open claims upload id for this request and positions its staging file
// at the recorded offset; keep is passed to blobstore.OpenStaging.
func (r *Registry) open(ctx context.Context, repo, id string, keep bool) (*session, error) {
	if !blobstore.ValidUploadID(id) {
		return nil, uploadUnknown(id)
	}
	if !r.uploads.acquire(id) {
		return nil, errcode.New(errcode.BlobUploadInvalid, "another request is writing this upload")
	}
	s := &session{r: r, id: id}
	var err error
	var pending bool
	if s.rec, pending, err = r.loadUpload(ctx, repo, id); err == nil {
		s.h = sha256.New()
		err = s.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.rec.HashState)
	}
	s.recorded = !pending
	if err == nil && pending && keep {
		// A PATCH will record bytes: the session gets its record before
		// its staging file exists, so that no staging file of an open
		// session is ever without one (GC removes those as orphans).
		err = r.kv.Update(ctx, func(t kv.Txn) error { return t.Set(kv.UploadKey(id), s.rec.Encode()) })
		if err == nil {
			r.pending.remove(id)
			s.recorded = true
		}
	}
	if err == nil {
		s.file, err = r.blobs.OpenStaging(id, s.rec.Offset, keep)
	}
	if err != nil {
		r.uploads.release(id)
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
	s.r.uploads.release(s.id)
}

// write appends body, checking its length when known (length >= 0).
func (s *session) write(ctx context.Context, body io.Reader, length int64) (int64, error) {
	if body == nil {
		return 0, nil
	}
	n, err := s.r.stream(ctx, s.file, body, length, s.h)
	if err == nil && length >= 0 && n != length {
		err = errcode.New(errcode.SizeInvalid, "body has %d bytes, Content-Length or Content-Range said %d", n, length)
	}
	return n, err
}

// persist fsyncs what was written and records the new offset and hash
// state, failing if the session was cancelled meanwhile.
func (s *session) persist(ctx context.Context, n int64) error {
	if err := s.file.Sync(); err != nil {
		return err
	}
	state, err := s.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	s.rec.Offset += n
	s.rec.HashState = state
	return s.r.kv.Update(ctx, func(t kv.Txn) error {
		if ok, err := t.Has(kv.UploadKey(s.id)); err != nil || !ok {
			return notFound(errors.Join(err, kv.ErrNotFound), uploadUnknown(s.id))
		}
		return t.Set(kv.UploadKey(s.id), s.rec.Encode())
	})
}

// AppendUpload writes a chunk to session id. start is the offset the client
// says the chunk begins at (from Content-Range), or -1 for a streamed PATCH;
// length is the chunk's size when known, or -1. It returns the new offset.
func (r *Registry) AppendUpload(ctx context.Context, repo, id string, start int64, body io.Reader, length int64) (Upload, error) {
	s, err := r.open(ctx, repo, id, true)
	if err != nil {
		return Upload{}, err
	}
	defer s.close()
	if start >= 0 && start != s.rec.Offset {
		return Upload{ID: id, Offset: s.rec.Offset}, errcode.New(errcode.RangeInvalid,
			"chunk starts at %d but the upload has %d bytes", start, s.rec.Offset).WithDetail(map[string]int64{"offset": s.rec.Offset})
	}
	n, err := s.write(ctx, body, length)
	if err == nil {
		err = s.persist(ctx, n)
	}
	return Upload{ID: id, Offset: s.rec.Offset}, err
}

// FinishUpload appends the optional final chunk, verifies the content
// against d and commits the blob into repo. On a digest mismatch nothing is
// stored and the session stays as it was before this request.
func (r *Registry) FinishUpload(ctx context.Context, repo, id string, d digest.Digest, start int64, body io.Reader, length int64) error {
	s, err := r.open(ctx, repo, id, false)
	if err != nil {
		return err
	}
	defer s.close()
	if start >= 0 && start != s.rec.Offset {
		return errcode.New(errcode.RangeInvalid, "chunk starts at %d but the upload has %d bytes", start, s.rec.Offset)
	}
	n, err := s.write(ctx, body, length)
	if err != nil {
		return err
	}
	size := s.rec.Offset + n
	var got digest.Digest
	if d.Algorithm() == digest.SHA256 {
		got = digest.NewDigest(digest.SHA256, s.h)
	} else if got, err = r.rehash(id, d.Algorithm()); err != nil {
		return err
	}
	if got != d {
		return digestMismatch(d, got)
	}
	if err := s.file.Sync(); err != nil {
		return err
	}
	if err := r.blobs.Commit(id, d); err != nil {
		return err
	}
	defer r.writers.lock(d)()
	err = r.kv.Update(ctx, func(t kv.Txn) error {
		// A pending session (POST then PUT, the common push) has no
		// record: deleting one would only write a tombstone. This request
		// holds the session (r.uploads), so nothing records it meanwhile.
		if s.recorded {
			if err := t.Delete(kv.UploadKey(id)); err != nil {
				return err
			}
		}
		return r.link(t, repo, d, size)
	})
	if err == nil {
		r.pending.remove(id)
	}
	return err
}

// rehash digests a staging file with an algorithm other than the session's
// running sha256 (a sha512 push finished through a session).
func (r *Registry) rehash(id string, alg digest.Algorithm) (digest.Digest, error) {
	f, err := r.blobs.ReadStaging(id)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return alg.FromReader(f)
}

func digestMismatch(want, got digest.Digest) *errcode.Error {
	return errcode.New(errcode.DigestInvalid, "provided digest did not match uploaded content").
		WithDetail(map[string]string{"digest": want.String(), "computed": got.String()})
}

// CancelUpload ends session id and drops its staging file.
func (r *Registry) CancelUpload(ctx context.Context, repo, id string) error {
	if _, _, err := r.loadUpload(ctx, repo, id); err != nil {
		return err
	}
	if !r.uploads.acquire(id) {
		return errcode.New(errcode.BlobUploadInvalid, "another request is writing this upload")
	}
	defer r.uploads.release(id)
	if err := r.kv.Update(ctx, func(t kv.Txn) error { return t.Delete(kv.UploadKey(id)) }); err != nil {
		return err
	}
	r.pending.remove(id)
	return r.blobs.RemoveStaging(id)
}

// PutBlob stores a whole blob sent in one request (POST ?digest= or a
// monolithic PUT) without an upload session.
func (r *Registry) PutBlob(ctx context.Context, repo string, d digest.Digest, body io.Reader, length int64) error {
	id := newID()
	f, err := r.blobs.CreateStaging(id)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		_ = f.Close()
		if !committed {
			_ = r.blobs.RemoveStaging(id)
		}
	}()
	h := d.Algorithm().Hash()
	n, err := r.stream(ctx, f, body, length, h)
	if err != nil {
		return err
	}
	if length >= 0 && n != length {
		return errcode.New(errcode.SizeInvalid, "body has %d bytes, Content-Length said %d", n, length)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return digestMismatch(d, got)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := r.blobs.Commit(id, d); err != nil {
		return err
	}
	committed = true
	defer r.writers.lock(d)()
	return r.kv.Update(ctx, func(t kv.Txn) error { return r.link(t, repo, d, n) })
}

// link records that blob d (of size bytes, already committed to the blob
// store) is in repo. It rewrites the blob record's LastLinked in the same
// transaction, which is what makes a concurrent GC sweep of d conflict
// with it (docs/design.md §5).
func (r *Registry) link(t kv.Txn, repo string, d digest.Digest, size int64) error {
	if err := r.checkSweep(t, d); err != nil {
		return err
	}
	now := r.now()
	rec := kv.BlobRecord{Size: size, Created: now.UnixNano()}
	if v, err := t.Get(kv.BlobKey(d.String())); err == nil {
		if rec, err = kv.DecodeBlob(v); err != nil {
			return err
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
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
	return ensureRepo(t, repo, now)
}

// MountBlob links blob d into repo from repository from, or from any
// repository holding it when from is empty (OCI 1.1 automatic mount). It
// reports false, with no error, when the blob is not mountable: the caller
// then opens an upload session instead (spec: 202 fallback). canPull, when
// not nil, limits the candidate source repositories.
func (r *Registry) MountBlob(ctx context.Context, repo, from string, d digest.Digest, canPull func(repo string) bool) (bool, error) {
	mounted := false
	unlock := r.writers.lock(d)
	defer unlock()
	err := r.kv.Update(ctx, func(t kv.Txn) error {
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
		return r.link(t, repo, d, rec.Size)
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
