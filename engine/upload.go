package engine

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"hash"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Upload sessions (spec "Pushing blobs"). A session's record holds the
// number of bytes durably in its staging file and the sha256 state after
// them, so each PATCH resumes hashing where the last stopped, finishing an
// upload never re-reads the file, and a session survives a restart of the
// process (spec "Resuming an upload": GET answers the recorded offset and
// the client goes on from there). Every piece of a session's state that a
// later request depends on is in its record, none only in memory, so any
// process sharing the store can serve the next request. The record is only
// advanced after the staging file is synced: a crash can leave extra bytes
// past the recorded offset, never fewer, and the next write (or start-up,
// engine/gc) cuts them off.

// Upload describes an open upload session.
type Upload struct {
	ID     string
	Offset int64
}

// StartUpload opens an upload session in repo. Its record is written
// before the 202, so the session is there after a restart even if no
// byte was sent to it yet. The 202 acknowledges no bytes, so where the
// store can (deferredStore) the record is not waited onto the disk: it
// survives the process being killed, and only a power cut in the moment
// before the next sync loses it, after which the client's next request
// is BLOB_UPLOAD_UNKNOWN and it starts again, having lost nothing. The
// common POST-then-PUT push so pays one synced commit, at the PUT.
func (r *Registry) StartUpload(ctx context.Context, repo string) (Upload, error) {
	if err := r.admit(0); err != nil {
		return Upload{}, err
	}
	id := newID()
	state, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return Upload{}, err
	}
	rec := kv.UploadRecord{Repo: repo, Started: r.now().UnixNano(), HashState: state}
	commit, _ := r.committer()
	err = commit(ctx, func(t kv.Txn) error { return t.Set(kv.UploadKey(id), rec.Encode()) })
	return Upload{ID: id}, err
}

// loadUpload reads session id and checks it belongs to repo.
func (r *Registry) loadUpload(ctx context.Context, repo, id string) (kv.UploadRecord, error) {
	rec, err := r.readUpload(ctx, id)
	if err == nil && rec.Repo != repo {
		err = uploadUnknown(id)
	}
	return rec, err
}

// readUpload reads session id, whatever its repository.
func (r *Registry) readUpload(ctx context.Context, id string) (kv.UploadRecord, error) {
	if !blobstore.ValidUploadID(id) {
		return kv.UploadRecord{}, uploadUnknown(id)
	}
	rec, err := kv.Load(ctx, r.kv, kv.UploadKey(id), kv.DecodeUpload)
	return rec, notFound(err, uploadUnknown(id))
}

func uploadUnknown(id string) *errcode.Error {
	return errcode.New(errcode.BlobUploadUnknown, "blob upload unknown to registry").WithDetail(map[string]string{"upload": id})
}

// UploadStatus returns the session's progress.
func (r *Registry) UploadStatus(ctx context.Context, repo, id string) (Upload, error) {
	rec, err := r.loadUpload(ctx, repo, id)
	return Upload{ID: id, Offset: rec.Offset}, err
}

// session is an upload being written by one request.
type session struct {
	r    *Registry
	id   string
	rec  kv.UploadRecord
	h    hash.Hash
	file blobstore.Writer
	// salvage says the last write failed only because the request body
	// ended early: every byte it wrote was also hashed, so they can be
	// recorded (see AppendUpload).
	salvage bool
}

// open claims upload id for this request and takes up its staging at the
// recorded offset and store state; keep is Position.Durable. A staging
// shorter than the record ends the session: the bytes its 202s promised
// are gone.
func (r *Registry) open(ctx context.Context, repo, id string, keep bool) (*session, error) {
	if !blobstore.ValidUploadID(id) {
		return nil, uploadUnknown(id)
	}
	if !r.claims.claim(id) {
		return nil, errUploadInUse(id)
	}
	s := &session{r: r, id: id}
	var err error
	if s.rec, err = r.loadUpload(ctx, repo, id); err == nil {
		s.h = sha256.New()
		err = s.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.rec.HashState)
	}
	if err == nil {
		s.file, err = r.blobs.Stage(ctx, id, blobstore.Position{Offset: s.rec.Offset, State: s.rec.Staging, Durable: keep})
		if errors.Is(err, blobstore.ErrStagingShort) {
			err = errors.Join(r.dropUpload(ctx, id), uploadUnknown(id))
		}
	}
	if err != nil {
		r.claims.release(id)
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
	s.r.claims.release(s.id)
}

// write appends body, checking its length when known (length >= 0). A
// body refused for lack of space is cut off the staging file, so the
// session is as it was before the request and holds no space for it.
func (s *session) write(ctx context.Context, body io.Reader, length int64) (int64, error) {
	if body == nil {
		return 0, nil
	}
	n, err := s.r.stream(ctx, s.r.guard(s.file), body, length, s.h)
	if t, ok := s.file.(truncater); ok && isFull(err) {
		_ = t.Truncate(s.rec.Offset)
	}
	short := err == nil && length >= 0 && n < length
	if err == nil && length >= 0 && n != length {
		err = errcode.New(errcode.SizeInvalid, "body has %d bytes, Content-Length or Content-Range said %d", n, length)
	}
	s.salvage = n > 0 && (short || errors.Is(err, errBodyRead))
	return n, err
}

// truncater is a staging on a local disk, whose bytes past the recorded
// offset hold space (blobstore.File); an S3 staging holds none that way.
type truncater interface{ Truncate(n int64) error }

// persist makes what was written durable and records the new offset,
// hash state and the store's staging state, failing if the session was
// cancelled, or advanced by another request (on another replica),
// meanwhile.
func (s *session) persist(ctx context.Context, n int64) error {
	staging, err := s.file.Sync(ctx)
	if err != nil {
		return diskspace.Classify(err)
	}
	state, err := s.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	rec := s.rec
	rec.Offset += n
	rec.HashState = state
	rec.Staging = staging
	rec.Updated = s.r.now().UnixNano()
	err = s.r.kv.Update(ctx, func(t kv.Txn) error {
		v, err := t.Get(kv.UploadKey(s.id))
		if err != nil {
			return notFound(err, uploadUnknown(s.id))
		}
		// Compare and set: the claim (inUse) keeps two requests of this
		// process off one session, not requests on two replicas. Only the
		// request that took up the state recorded now may advance it, so
		// a session never forks; the loser's bytes are not recorded.
		cur, err := kv.DecodeUpload(v)
		if err != nil {
			return err
		}
		if cur.Offset != s.rec.Offset || cur.Updated != s.rec.Updated {
			return errcode.New(errcode.RangeInvalid, "another request wrote this upload meanwhile; it has %d bytes", cur.Offset).
				WithDetail(map[string]int64{"offset": cur.Offset})
		}
		return t.Set(kv.UploadKey(s.id), rec.Encode())
	})
	if err == nil {
		s.rec = rec
	}
	return err
}

// AppendUpload writes a chunk to session id. start is the offset the client
// says the chunk begins at (from Content-Range), or -1 for a streamed PATCH;
// length is the chunk's size when known, or -1. It returns the new offset.
//
// A body that ends early (the client went away, the connection was cut
// at shutdown) still gets what arrived recorded before the error is
// answered: a client that resumes (GET, then PATCH from the offset) does
// not send those bytes again, which for a large layer streamed in one
// PATCH is most of it.
func (r *Registry) AppendUpload(ctx context.Context, repo, id string, start int64, body io.Reader, length int64) (Upload, error) {
	if err := r.admit(length); err != nil {
		return Upload{}, err
	}
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
	switch {
	case err == nil:
		err = s.persist(ctx, n)
	case s.salvage:
		// The request is failing, possibly because its context ended:
		// the record is still written, on a context that outlives it.
		_ = s.persist(context.WithoutCancel(ctx), n)
	}
	return Upload{ID: id, Offset: s.rec.Offset}, err
}

// FinishUpload appends the optional final chunk, verifies the content
// against d and commits the blob into repo. On a digest mismatch nothing is
// stored and the session stays as it was before this request.
func (r *Registry) FinishUpload(ctx context.Context, repo, id string, d digest.Digest, start int64, body io.Reader, length int64) error {
	if err := r.admit(length); err != nil {
		return err
	}
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
	} else if got, err = r.rehash(ctx, s, d.Algorithm()); err != nil {
		return err
	}
	if got != d {
		return digestMismatch(d, got)
	}
	existed, err := s.file.Commit(ctx, d)
	if err != nil {
		return diskspace.Classify(err)
	}
	return r.updateBlobs(ctx, []digest.Digest{d}, func(t kv.Txn) error {
		if err := t.Delete(kv.UploadKey(id)); err != nil {
			return err
		}
		return r.link(ctx, t, repo, d, size, existed)
	})
}

// rehash digests a staging with an algorithm other than the session's
// running sha256 (a sha512 push finished through a session).
func (r *Registry) rehash(ctx context.Context, s *session, alg digest.Algorithm) (digest.Digest, error) {
	f, err := s.file.Reread(ctx)
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
	if _, err := r.loadUpload(ctx, repo, id); err != nil {
		return err
	}
	if !r.claims.claim(id) {
		return errUploadInUse(id)
	}
	defer r.claims.release(id)
	return r.dropUpload(ctx, id)
}

// dropUpload removes session id's record, then its staging file: a
// staging file without a record is one GC and start-up remove, a record
// without its file would be a session that lost its bytes.
func (r *Registry) dropUpload(ctx context.Context, id string) error {
	if err := r.kv.Update(ctx, func(t kv.Txn) error { return t.Delete(kv.UploadKey(id)) }); err != nil {
		return err
	}
	return r.blobs.RemoveStaging(ctx, id)
}

// uploadClaims is the set of uploads a request is writing now: it guards
// upload sessions against two requests writing one staging file at once.
// It is per upload, not a global lock: a second request for the same
// upload is refused (errUploadInUse), not queued.
type uploadClaims struct{ m sync.Map }

// claim claims upload id for the calling request; false when another
// request holds it.
func (u *uploadClaims) claim(id string) bool {
	_, held := u.m.LoadOrStore(id, struct{}{})
	return !held
}

func (u *uploadClaims) release(id string) { u.m.Delete(id) }

// errUploadInUse refuses a request for an upload another request holds.
func errUploadInUse(id string) *errcode.Error {
	return errcode.New(errcode.UploadInUse, "upload %s is being written by another request; retry when it ends", id)
}
