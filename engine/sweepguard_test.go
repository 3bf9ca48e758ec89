package engine

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// guardStore counts Stat calls and, when collect is set, deletes each
// blob right after a Commit that found it stored: a collection removing
// the file between an upload's Commit and its link transaction.
type guardStore struct {
	blobstore.Store
	stats   atomic.Int64
	collect bool
}

func (s *guardStore) Stat(ctx context.Context, d digest.Digest) (blobstore.Info, error) {
	s.stats.Add(1)
	return s.Store.Stat(ctx, d)
}

func (s *guardStore) Stage(ctx context.Context, id string, pos blobstore.Position) (blobstore.Writer, error) {
	w, err := s.Store.Stage(ctx, id, pos)
	if err != nil {
		return nil, err
	}
	return &guardWriter{Writer: w, s: s}, nil
}

type guardWriter struct {
	blobstore.Writer
	s *guardStore
}

func (w *guardWriter) Commit(ctx context.Context, d digest.Digest) (bool, error) {
	existed, err := w.Writer.Commit(ctx, d)
	if err == nil && existed && w.s.collect {
		err = w.s.Store.Delete(ctx, d)
	}
	return existed, err
}

// TestLinkChecksOnlyFilesItFound: recording a blob looks at the blob store
// inside its transaction only when the upload's Commit found the file
// already there (checkSweep), and then refuses a file that is gone; a new
// blob costs no look (on S3 it was a request per new blob inside the
// PostgreSQL transaction).
func TestLinkChecksOnlyFilesItFound(t *testing.T) {
	ctx := context.Background()
	stores := enginetest.Open(t, "")
	g := &guardStore{Store: stores.Blobs}
	r := New(stores.KV, g, Options{})
	t.Cleanup(func() { _ = r.Close(ctx) })
	put := func(data []byte) error {
		return r.PutBlob(ctx, "app", digest.FromBytes(data), bytes.NewReader(data), int64(len(data)))
	}
	// A file with no record: left by a crash, or being swept.
	place := func(data []byte) {
		t.Helper()
		w, err := stores.Blobs.Stage(ctx, newID(), blobstore.Position{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, digest.FromBytes(data)); err != nil {
			t.Fatal(err)
		}
	}

	if err := put([]byte("new")); err != nil || g.stats.Load() != 0 {
		t.Fatalf("a new blob: %v, %d Stat calls (want none)", err, g.stats.Load())
	}
	place([]byte("found"))
	if err := put([]byte("found")); err != nil || g.stats.Load() != 1 {
		t.Fatalf("a blob whose file was there with no record: %v, %d Stat calls (want 1)", err, g.stats.Load())
	}
	if _, err := r.StatBlob(ctx, "app", digest.FromBytes([]byte("found"))); err != nil {
		t.Fatalf("the found blob was not recorded: %v", err)
	}

	g.collect = true
	place([]byte("swept"))
	err := put([]byte("swept"))
	if e := (*errcode.Error)(nil); !errors.As(err, &e) || e.Kind != errcode.BlobUploadInvalid {
		t.Fatalf("a blob whose file went between Commit and link: %v, want BLOB_UPLOAD_INVALID", err)
	}
	if ok, err := kv.Read(ctx, stores.KV, func(t kv.Reader) (bool, error) {
		return t.Has(kv.BlobKey(digest.FromBytes([]byte("swept")).String()))
	}); err != nil || ok {
		t.Fatalf("a record of a missing file was written (%v, %v)", ok, err)
	}
}
