package blobstore

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

const id1 = "0123456789abcdef0123456789abcdef"

func stage(t *testing.T, s *FS, id string, offset int64, data string) {
	t.Helper()
	f, err := s.OpenStaging(id, offset, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

func TestStageCommitRead(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stage(t, s, id1, 0, "hello ")
	stage(t, s, id1, 6, "world")
	d := digest.FromString("hello world")
	if err := s.Commit(id1, d); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Stat(d); err != nil || n != 11 {
		t.Fatalf("Stat = %d, %v", n, err)
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
	if err := s.Walk(func(d digest.Digest) error { walked = append(walked, d); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 1 || walked[0] != d {
		t.Errorf("Walk = %v", walked)
	}
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// Bytes past the recorded offset (a request that died before its offset
// was recorded) are cut off when the session resumes.
func TestOpenStagingTruncatesUnrecordedTail(t *testing.T) {
	s, _ := Open(t.TempDir())
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
	s, _ := Open(t.TempDir())
	d := digest.FromString("x")
	stage(t, s, id1, 0, "x")
	if err := s.Commit(id1, d); err != nil {
		t.Fatal(err)
	}
	const id2 = "fedcba9876543210fedcba9876543210"
	stage(t, s, id2, 0, "x")
	if err := s.Commit(id2, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadStaging(id2); !errors.Is(err, ErrNotFound) {
		t.Errorf("second staging file not removed: %v", err)
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
