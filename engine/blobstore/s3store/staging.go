package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

// state is what Sync returns and the engine records with the session.
type state struct {
	Upload string `json:"u,omitempty"` // multipart upload id; "" before the first part
	Parts  []part `json:"p,omitempty"`
	Tail   int64  `json:"t,omitempty"` // bytes in the tail object
	// TailName names the tail object under uploads/<id>/. Each Sync puts
	// a new one: a Sync whose state is never recorded (its request failed
	// after it) must not overwrite the tail the record names.
	TailName string `json:"k,omitempty"`
	// Old names the tails this state supersedes: they may still exist
	// (the writer could not delete them before the state was recorded),
	// and the next writer deletes them, so Commit removes exactly what it
	// knows of without listing the staging.
	Old []string `json:"o,omitempty"`
}

type part struct {
	N    int32  `json:"n"`
	ETag string `json:"e"`
	Size int64  `json:"s"`
}

func (st state) size() int64 {
	n := st.Tail
	for _, p := range st.Parts {
		n += p.Size
	}
	return n
}

// writer appends to a staging: full parts go to the multipart upload,
// the rest waits in buf (at most one part) until Sync puts it as the tail.
// buf grows with the bytes received: a small layer never costs a whole
// part's allocation (zeroing 16 MiB per upload dominated the CPU).
type writer struct {
	s   *Store
	ctx context.Context
	id  string
	st  state
	buf []byte
	// tails are the tail objects the writer may not delete before a new
	// state is recorded: the one it was handed and every one its own
	// Syncs put. stale are those the handed (recorded) state superseded,
	// garbage already. Commit deletes both; a tail put by a Sync whose
	// state was never recorded is in neither, and the expiry job's walk
	// of the staging area removes it.
	tails, stale []string
	// completed says the staging is one object at the staging key now
	// (Reread): only Commit may follow.
	completed bool
}

// Stage takes up upload id from the state recorded at pos.
func (s *Store) Stage(ctx context.Context, id string, pos blobstore.Position) (blobstore.Writer, error) {
	w := &writer{s: s, ctx: ctx, id: id}
	if len(pos.State) > 0 {
		if err := json.Unmarshal(pos.State, &w.st); err != nil {
			return nil, fmt.Errorf("s3store: staging state of %s: %w", id, err)
		}
	}
	if w.st.size() != pos.Offset {
		return nil, fmt.Errorf("%w: %s has %d bytes, expected %d", blobstore.ErrStagingShort, id, w.st.size(), pos.Offset)
	}
	w.stale, w.st.Old = w.st.Old, nil
	if w.st.TailName != "" {
		w.tails = []string{w.st.TailName}
	}
	if w.st.Tail > 0 {
		out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingDir(id) + w.st.TailName),
			Range: aws.String(fmt.Sprintf("bytes=0-%d", w.st.Tail-1))})
		if err = wrap(err); errors.Is(err, blobstore.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s lost its tail", blobstore.ErrStagingShort, id)
		}
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		w.buf = make([]byte, w.st.Tail)
		n, err := io.ReadFull(out.Body, w.buf)
		if err != nil {
			return nil, wrap(err)
		}
		w.buf = w.buf[:n]
		w.st.Tail, w.st.TailName = 0, "" // the bytes are in buf now; Sync writes them again
	}
	return w, nil
}

func (w *writer) dataKey() string { return w.s.stagingDir(w.id) + dataName }

// dataName is the object a staging is completed into (Reread, Commit).
const dataName = "data"

// Write fills buf and sends each full part; buf never grows past a part.
func (w *writer) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		k := min(len(p), int(w.s.cfg.PartSize)-len(w.buf))
		w.grow(k)
		w.buf = append(w.buf, p[:k]...)
		p, done = p[k:], done+k
		if int64(len(w.buf)) == w.s.cfg.PartSize {
			if err := w.uploadPart(w.ctx); err != nil {
				return done - len(w.buf), err
			}
		}
	}
	return done, nil
}

// grow makes room in buf for n more bytes: at least doubling, so a part
// costs a few copies at most, and never past a part.
func (w *writer) grow(n int) {
	need := len(w.buf) + n
	if need <= cap(w.buf) {
		return
	}
	c := min(max(need, 2*cap(w.buf), 64<<10), int(w.s.cfg.PartSize))
	b := make([]byte, len(w.buf), c)
	copy(b, w.buf)
	w.buf = b
}

// uploadPart sends buf as the next part, starting the multipart upload
// at the first.
func (w *writer) uploadPart(ctx context.Context) error {
	s := w.s
	if w.st.Upload == "" {
		out, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: aws.String(w.dataKey())})
		if err != nil {
			return wrap(err)
		}
		w.st.Upload = aws.ToString(out.UploadId)
	}
	n := int32(len(w.st.Parts) + 1)
	out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.cfg.Bucket, Key: aws.String(w.dataKey()),
		UploadId: &w.st.Upload, PartNumber: &n, Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf)))})
	if err != nil {
		return wrap(err)
	}
	w.st.Parts = append(w.st.Parts, part{N: n, ETag: aws.ToString(out.ETag), Size: int64(len(w.buf))})
	w.buf = w.buf[:0]
	return nil
}

// Sync puts what is past the last part as the tail object and returns the
// state to record. Every part is already acknowledged by S3. The tails
// the writer knows of go into the state as Old: they cannot be deleted
// before the caller records the new state (if it never does, the one it
// has names them), so the next writer deletes them, as this one deletes
// the stale tails it was handed.
func (w *writer) Sync(ctx context.Context) ([]byte, error) {
	st := w.st
	st.Tail, st.TailName = int64(len(w.buf)), ""
	if len(w.buf) > 0 {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails on Linux
		st.TailName = "tail-" + hex.EncodeToString(rnd[:])
		if err := w.s.putObject(ctx, w.s.stagingDir(w.id)+st.TailName, w.buf); err != nil {
			return nil, err
		}
	}
	if err := w.s.deleteObjects(ctx, w.id, w.stale); err != nil {
		return nil, err
	}
	w.stale = nil
	st.Old = slices.Clone(w.tails)
	if st.TailName != "" {
		w.tails = append(w.tails, st.TailName)
	}
	return json.Marshal(st)
}

// Commit stores the verified bytes as blob d: directly when they never
// filled a part, else by completing the multipart upload at the staging
// key and copying it to d's key (copy.go). The staging is removed
// afterwards: exactly the objects and upload the writer knows of, with
// no listing.
func (w *writer) Commit(ctx context.Context, d digest.Digest) (existed bool, err error) {
	s := w.s
	key := s.blobKey(d)
	have, err := s.exists(ctx, key)
	if err != nil {
		return false, err
	}
	switch {
	case have:
	case w.st.Upload == "" && !w.completed:
		if err := s.putObject(ctx, key, w.buf); err != nil {
			return false, err
		}
	default:
		if err := w.complete(ctx); err != nil {
			return false, err
		}
		if err := s.copyObject(ctx, w.dataKey(), key, w.st.size()+int64(len(w.buf))); err != nil {
			return false, err
		}
	}
	return have, w.remove(ctx)
}

// remove deletes what the writer knows the staging holds: the multipart
// upload (aborted if Commit found the blob already stored), the completed
// data object, and the tails.
func (w *writer) remove(ctx context.Context) error {
	s := w.s
	if w.st.Upload != "" && !w.completed {
		_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: aws.String(w.dataKey()), UploadId: &w.st.Upload})
		if err = wrap(err); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
			return err
		}
	}
	names := append(slices.Clone(w.tails), w.stale...)
	if w.completed {
		names = append(names, dataName)
	}
	return s.deleteObjects(ctx, w.id, names)
}

// deleteObjects deletes the named objects of staging id (S3's DELETE of an
// absent key succeeds).
func (s *Store) deleteObjects(ctx context.Context, id string, names []string) error {
	for _, n := range names {
		if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.stagingDir(id) + n)}); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// Reread completes the multipart upload at the staging key (or, for
// bytes that never filled a part, puts them there) and reads it back;
// Commit then only copies it into place.
func (w *writer) Reread(ctx context.Context) (io.ReadCloser, error) {
	if err := w.complete(ctx); err != nil {
		return nil, err
	}
	out, err := w.s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &w.s.cfg.Bucket, Key: aws.String(w.dataKey())})
	if err != nil {
		return nil, wrap(err)
	}
	return out.Body, nil
}

// complete turns the staging into the one object at the staging key.
func (w *writer) complete(ctx context.Context) error {
	s := w.s
	if w.completed {
		return nil
	}
	if w.st.Upload == "" {
		if err := s.putObject(ctx, w.dataKey(), w.buf); err != nil {
			return err
		}
		w.completed = true
		return nil
	}
	if len(w.buf) > 0 {
		if err := w.uploadPart(ctx); err != nil {
			return err
		}
	}
	parts := make([]types.CompletedPart, len(w.st.Parts))
	for i, p := range w.st.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.cfg.Bucket,
		Key: aws.String(w.dataKey()), UploadId: &w.st.Upload, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return wrap(err)
	}
	w.completed = true
	return nil
}

func (w *writer) Close() error { w.buf = nil; return nil }

// RemoveStaging aborts upload id's multipart uploads and deletes its
// objects: every tail a Sync left, and the completed data object.
func (s *Store) RemoveStaging(ctx context.Context, id string) error {
	dir := s.stagingDir(id)
	err := s.multiparts(ctx, dir, func(u types.MultipartUpload) error {
		_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: u.Key, UploadId: u.UploadId})
		if err = wrap(err); errors.Is(err, blobstore.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.list(ctx, dir, func(o types.Object) error {
		_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: o.Key})
		return wrap(err)
	})
}

// multiparts calls fn for every multipart upload under prefix.
func (s *Store) multiparts(ctx context.Context, prefix string, fn func(types.MultipartUpload) error) error {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: &prefix}
	for {
		out, err := s.c.ListMultipartUploads(ctx, in)
		if err != nil {
			return wrap(err)
		}
		for _, u := range out.Uploads {
			if err := fn(u); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// StatStaging describes upload id from its objects and multipart uploads.
func (s *Store) StatStaging(ctx context.Context, id string) (blobstore.StagingFile, error) {
	var found *blobstore.StagingFile
	err := s.walkStaging(ctx, s.stagingDir(id), func(f blobstore.StagingFile) error { found = &f; return nil })
	if err != nil {
		return blobstore.StagingFile{}, err
	}
	if found == nil {
		return blobstore.StagingFile{}, blobstore.ErrNotFound
	}
	return *found, nil
}

// WalkStaging lists every staging: tails and finished data objects, and
// multipart uploads (the parts of a session, or of a whole-blob push cut
// short). Size is what the objects hold; parts in flight are not counted.
func (s *Store) WalkStaging(ctx context.Context, fn func(blobstore.StagingFile) error) error {
	return s.walkStaging(ctx, s.cfg.Prefix+"uploads/", fn)
}

func (s *Store) walkStaging(ctx context.Context, prefix string, fn func(blobstore.StagingFile) error) error {
	byID := map[string]*blobstore.StagingFile{}
	var order []string
	add := func(key string) *blobstore.StagingFile {
		id, _, _ := strings.Cut(strings.TrimPrefix(key, s.cfg.Prefix+"uploads/"), "/")
		if !blobstore.ValidUploadID(id) {
			return nil
		}
		f := byID[id]
		if f == nil {
			f = &blobstore.StagingFile{ID: id}
			byID[id] = f
			order = append(order, id)
		}
		return f
	}
	err := s.list(ctx, prefix, func(o types.Object) error {
		if f := add(aws.ToString(o.Key)); f != nil {
			f.Size += aws.ToInt64(o.Size)
			if t := aws.ToTime(o.LastModified); t.After(f.Modified) {
				f.Modified = t
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = s.multiparts(ctx, prefix, func(u types.MultipartUpload) error {
		if f := add(aws.ToString(u.Key)); f != nil {
			if t := aws.ToTime(u.Initiated); t.After(f.Modified) {
				f.Modified = t
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range order {
		if err := fn(*byID[id]); err != nil {
			return err
		}
	}
	return nil
}
