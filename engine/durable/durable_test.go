package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFile(p, func(w io.Writer) error { _, err := io.WriteString(w, "hello\n"); return err }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("read back %q, %v", b, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	// An existing file is never overwritten: O_EXCL.
	if err := WriteFile(p, func(io.Writer) error { return nil }); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	// The writer's error is returned as it is.
	boom := errors.New("boom")
	if err := WriteFile(filepath.Join(dir, "g"), func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing writer: %v, want %v", err, boom)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir of a missing directory: %v", err)
	}
}
