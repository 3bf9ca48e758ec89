package blobstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

const id1 = "0123456789abcdef0123456789abcdef"

func stage(t *testing.T, s *FS, id string, offset int64, data string) {
	t.Helper()
	f, err := s.OpenStaging(id, offset, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

func TestStageCommitRead(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stage(t, s, id1, 0, "hello ")
	stage(t, s, id1, 6, "world")
	d := digest.FromString("hello world")
	if _, err := s.Commit(id1, d); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Stat(t.Context(), d); err != nil || info.Size != 11 {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	f, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	_ = f.Close()
	if string(b) != "hello world" {
		t.Fatalf("read %q", b)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "uploads", id1)); !errors.Is(err, os.ErrNotExist) {
		t.Error("staging file left behind after commit")
	}
	var walked []digest.Digest
	if err := s.Walk(t.Context(), func(d digest.Digest) error { walked = append(walked, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 1 || walked[0] != d {
		t.Errorf("Walk = %v", walked)
	}
	if err := s.Delete(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), d); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// Bytes past the recorded offset (a request that died before its offset
// was recorded) are cut off when the session resumes.
func TestOpenStagingTruncatesUnrecordedTail(t *testing.T) {
	s, _ := Open(t.TempDir(), nil)
	stage(t, s, id1, 0, "abcGARBAGE")
	stage(t, s, id1, 3, "def")
	f, _ := s.ReadStaging(id1)
	b, _ := io.ReadAll(f)
	_ = f.Close()
	if string(b) != "abcdef" {
		t.Fatalf("staging = %q, want abcdef", b)
	}
	if _, err := s.OpenStaging(id1, 100, true); err == nil {
		t.Fatal("resuming past the end of the staging file must fail, bytes were lost")
	}
}

func TestCommitExistingDropsStaging(t *testing.T) {
	s, _ := Open(t.TempDir(), nil)
	d := digest.FromString("x")
	stage(t, s, id1, 0, "x")
	if _, err := s.Commit(id1, d); err != nil {
		t.Fatal(err)
	}
	const id2 = "fedcba9876543210fedcba9876543210"
	stage(t, s, id2, 0, "x")
	if _, err := s.Commit(id2, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadStaging(id2); !errors.Is(err, ErrNotFound) {
		t.Errorf("second staging file not removed: %v", err)
	}
}

// TestCommitDatesBlob: a staging file last written long ago (a session
// resumed after hours) becomes a blob dated by its Commit, or the orphan
// walk would take it for an old orphan before its record is written.
func TestCommitDatesBlob(t *testing.T) {
	s, _ := Open(t.TempDir(), nil)
	d := digest.FromString("x")
	stage(t, s, id1, 0, "x")
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(s.stagingPath(id1), old, old); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := s.Commit(id1, d); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if info.Modified.Before(before) {
		t.Errorf("blob dated %v, want its Commit's time (after %v)", info.Modified, before)
	}
}

func TestValidUploadID(t *testing.T) {
	for id, want := range map[string]bool{
		id1: true, "": false, "../../../../etc/passwd": false, id1[:31]: false,
		"0123456789ABCDEF0123456789abcdef": false, id1 + "0": false,
	} {
		if ValidUploadID(id) != want {
			t.Errorf("ValidUploadID(%q) != %v", id, want)
		}
	}
}

// TestStagingWritePatterns writes a staging file in every shape the
// engine produces (aligned buffers, odd addresses, tails, chunks that
// start mid-block, a reopened session) and reads back exactly the bytes
// written: direct and page-cache writes interleave in one file.
func TestStagingWritePatterns(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]byte, 3<<20)
	for i := range src {
		src[i] = byte(i*131 + i>>9)
	}
	buf := AlignedBuffer(2 << 20)
	var want []byte
	write := func(f *File, p []byte) {
		t.Helper()
		if n, err := f.Write(p); err != nil || n != len(p) {
			t.Fatalf("write %d bytes: %d, %v", len(p), n, err)
		}
		want = append(want, p...)
	}
	f, err := s.OpenStaging(id1, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	f.AllowDirect()
	pos := 0
	next := func(n int) []byte { p := src[pos : pos+n]; pos += n; return p }
	write(f, append(buf[:0], next(1<<20)...))         // aligned, whole blocks
	write(f, append(buf[:0], next(5000)...))          // one block and a tail
	write(f, append(buf[:0], next(3*DirectAlign)...)) // offset mid-block now
	write(f, append(buf[1:1], next(10000)...))        // odd address
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	// A later chunk of the session reopens the file at its recorded length,
	// first cutting a tail that was never recorded.
	g, err := s.OpenStaging(id1, int64(len(want)), true)
	if err != nil {
		t.Fatal(err)
	}
	g.AllowDirect()
	write(g, append(buf[:0], next(777)...))
	write(g, append(buf[:0], next(1<<20)...))
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = g.Close()
	r, err := s.ReadStaging(id1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (want %d), equal %t, %v", len(got), len(want), bytes.Equal(got, want), err)
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{DirectAlign, 1 << 20} {
		b := AlignedBuffer(n)
		if len(b) != n || cap(b) != n || !aligned(b) {
			t.Errorf("AlignedBuffer(%d): len %d cap %d aligned %t", n, len(b), cap(b), aligned(b))
		}
	}
}
