package blobtest

import (
	"bytes"
	"crypto/rand"
	_ "crypto/sha512" // the Reread case digests with sha512
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

// ChunkSize is the size of the chunks the suite appends: large enough
// that a few of them cross a multipart part boundary of 5 MiB, the
// smallest part S3 accepts.
const ChunkSize = 3 << 20

// Run runs the suite; open returns a new, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) blobstore.Store) {
	t.Run("WholeBlob", func(t *testing.T) { wholeBlob(t, open(t)) })
	t.Run("Empty", func(t *testing.T) { empty(t, open(t)) })
	t.Run("Missing", func(t *testing.T) { missing(t, open(t)) })
	t.Run("Resume", func(t *testing.T) { resume(t, open(t)) })
	t.Run("RetriedChunk", func(t *testing.T) { retried(t, open(t)) })
	t.Run("RemoveStaging", func(t *testing.T) { removeStaging(t, open(t)) })
	t.Run("CommitTwice", func(t *testing.T) { commitTwice(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { deleteBlob(t, open(t)) })
	t.Run("Reread", func(t *testing.T) { reread(t, open(t)) })
}

// reread reads a staging back (a sha512 push through a session) and
// commits it under the digest computed from what was read.
func reread(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	id := newID(t)
	data := random(t, 2*ChunkSize+3)
	pos := appendChunk(t, s, id, blobstore.Position{Durable: true}, data[:ChunkSize])
	w, err := s.Stage(ctx, id, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data[ChunkSize:]); err != nil {
		t.Fatal(err)
	}
	r, err := w.Reread(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := digest.SHA512.FromReader(r)
	_ = r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.SHA512.FromBytes(data); d != want {
		t.Fatalf("Reread digests to %s, want %s", d, want)
	}
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	check(t, s, d, data)
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newID returns an upload id of the shape the engine generates.
func newID(t *testing.T) string {
	return digest.FromBytes(random(t, 16)).Encoded()[:32]
}

// put stores data as one staged write and returns its digest.
func put(t *testing.T, s blobstore.Store, data []byte) digest.Digest {
	t.Helper()
	d, _ := commit(t, s, data)
	return d
}

// commit stores data as one staged write and returns its digest and
// whether Commit found it stored already.
func commit(t *testing.T, s blobstore.Store, data []byte) (digest.Digest, bool) {
	t.Helper()
	ctx := t.Context()
	w, err := s.Stage(ctx, newID(t), blobstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(data)
	existed, err := w.Commit(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return d, existed
}

// check reads blob d back whole and from an offset.
func check(t *testing.T, s blobstore.Store, d digest.Digest, want []byte) {
	t.Helper()
	ctx := t.Context()
	info, err := s.Stat(ctx, d)
	if err != nil || info.Size != int64(len(want)) {
		t.Fatalf("Stat(%s) = %+v, %v; want size %d", d, info, err, len(want))
	}
	got := read(t, s, d, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("blob %s: read %d bytes that differ from the %d written", d, len(got), len(want))
	}
	if len(want) > 1 {
		off := int64(len(want) / 2)
		if got := read(t, s, d, off); !bytes.Equal(got, want[off:]) {
			t.Fatalf("blob %s from %d: %d bytes, want %d", d, off, len(got), len(want)-int(off))
		}
	}
}

func read(t *testing.T, s blobstore.Store, d digest.Digest, off int64) []byte {
	t.Helper()
	r, err := s.Reader(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if off > 0 {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func walk(t *testing.T, s blobstore.Store) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	if err := s.Walk(t.Context(), func(d digest.Digest) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return ds
}

func stagings(t *testing.T, s blobstore.Store) []string {
	t.Helper()
	var ids []string
	err := s.WalkStaging(t.Context(), func(f blobstore.StagingFile) error { ids = append(ids, f.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func wholeBlob(t *testing.T, s blobstore.Store) {
	data := random(t, 1<<20+17)
	d := put(t, s, data)
	check(t, s, d, data)
	if ds := walk(t, s); !slices.Equal(ds, []digest.Digest{d}) {
		t.Fatalf("Walk = %v, want [%s]", ds, d)
	}
	if ids := stagings(t, s); len(ids) != 0 {
		t.Fatalf("stagings left after Commit: %v", ids)
	}
}

func empty(t *testing.T, s blobstore.Store) {
	d := put(t, s, nil)
	check(t, s, d, nil)
}

func missing(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	d := digest.FromString("never stored")
	if _, err := s.Stat(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat of a missing blob: %v, want ErrNotFound", err)
	}
	if _, err := s.Reader(ctx, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Reader of a missing blob: %v, want ErrNotFound", err)
	}
	if _, err := s.StatStaging(ctx, newID(t)); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("StatStaging of a missing upload: %v, want ErrNotFound", err)
	}
	if err := s.RemoveStaging(ctx, newID(t)); err != nil {
		t.Fatalf("RemoveStaging of a missing upload: %v", err)
	}
}

// appendChunk takes up staging id at pos, writes chunk, syncs and
// returns the position after it.
func appendChunk(t *testing.T, s blobstore.Store, id string, pos blobstore.Position, chunk []byte) blobstore.Position {
	t.Helper()
	ctx := t.Context()
	w, err := s.Stage(ctx, id, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(chunk); err != nil {
		t.Fatal(err)
	}
	state, err := w.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return blobstore.Position{Offset: pos.Offset + int64(len(chunk)), State: state, Durable: true}
}

// finish takes up staging id at pos and commits it under d.
func finish(t *testing.T, s blobstore.Store, id string, pos blobstore.Position, d digest.Digest) {
	t.Helper()
	w, err := s.Stage(t.Context(), id, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Commit(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

// resume writes a blob in chunks, each through a new writer (as each
// PATCH of a session is a new request, maybe in another process).
func resume(t *testing.T, s blobstore.Store) {
	id := newID(t)
	data := random(t, 3*ChunkSize+12345)
	pos := blobstore.Position{Durable: true}
	for off := 0; off < len(data); off += ChunkSize {
		pos = appendChunk(t, s, id, pos, data[off:min(off+ChunkSize, len(data))])
		info, err := s.StatStaging(t.Context(), id)
		if err != nil || info.ID != id {
			t.Fatalf("StatStaging after %d bytes: %+v, %v", pos.Offset, info, err)
		}
		if ids := stagings(t, s); !slices.Contains(ids, id) {
			t.Fatalf("WalkStaging = %v, want %s among them", ids, id)
		}
	}
	d := digest.FromBytes(data)
	if _, err := s.Stat(t.Context(), d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("blob visible before Commit: %v", err)
	}
	finish(t, s, id, pos, d)
	check(t, s, d, data)
	if ids := stagings(t, s); len(ids) != 0 {
		t.Fatalf("stagings left after Commit: %v", ids)
	}
}

// retried writes bytes that are never recorded (a request that failed
// after writing), then takes the staging up at the recorded position:
// the unrecorded bytes must not be in the blob.
func retried(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	id := newID(t)
	a, lost, b := random(t, ChunkSize), random(t, 2*ChunkSize), random(t, ChunkSize+7)
	pos := appendChunk(t, s, id, blobstore.Position{Durable: true}, a)
	w, err := s.Stage(ctx, id, pos)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(lost); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Sync(ctx); err != nil { // synced but never recorded
		t.Fatal(err)
	}
	_ = w.Close()
	pos = appendChunk(t, s, id, pos, b)
	data := append(slices.Clone(a), b...)
	d := digest.FromBytes(data)
	finish(t, s, id, pos, d)
	check(t, s, d, data)
}

func removeStaging(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	id := newID(t)
	data := random(t, 2*ChunkSize)
	appendChunk(t, s, id, blobstore.Position{Durable: true}, data)
	if err := s.RemoveStaging(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatStaging(ctx, id); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("StatStaging after RemoveStaging: %v, want ErrNotFound", err)
	}
	if ids := stagings(t, s); len(ids) != 0 {
		t.Fatalf("stagings left after RemoveStaging: %v", ids)
	}
	if ds := walk(t, s); len(ds) != 0 {
		t.Fatalf("blobs after a removed staging: %v", ds)
	}
}

// commitTwice commits the same bytes twice: the second Commit keeps the
// first's blob, says so, and leaves no staging behind. The first is dated
// by its Commit (a collection judges a file's age by it).
func commitTwice(t *testing.T, s blobstore.Store) {
	data := random(t, 4096)
	before := time.Now().Add(-time.Second) // S3 dates objects to the second
	d, existed := commit(t, s, data)
	if existed {
		t.Fatal("the first Commit of a blob said it existed")
	}
	info, err := s.Stat(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if info.Modified.Before(before) {
		t.Errorf("a blob committed now is dated %v, before %v", info.Modified, before)
	}
	again, existed := commit(t, s, data)
	if again != d {
		t.Fatal("same bytes, different digest")
	}
	if !existed {
		t.Fatal("the second Commit of a blob did not say it existed")
	}
	check(t, s, d, data)
	if ids := stagings(t, s); len(ids) != 0 {
		t.Fatalf("stagings left after a second Commit: %v", ids)
	}
}

func deleteBlob(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	keep, gone := random(t, 100), random(t, 200)
	dk, dg := put(t, s, keep), put(t, s, gone)
	if err := s.Delete(ctx, dg); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, dg); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, dg); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if ds := walk(t, s); !slices.Equal(ds, []digest.Digest{dk}) {
		t.Fatalf("Walk after Delete = %v, want [%s]", ds, dk)
	}
	check(t, s, dk, keep)
}
