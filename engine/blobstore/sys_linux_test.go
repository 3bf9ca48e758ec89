package blobstore

import (
	"os"
	"path/filepath"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// TestReadAheadReleases checks that a long read-ahead runs on its own
// descriptor (the caller closes its file at once) and gives its slot back,
// and that past maxReadAheads concurrent ones the rest are skipped rather
// than queued.
func TestReadAheadReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, make([]byte, 3*readAheadStep), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 * maxReadAheads {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		readAhead(f, 0, 3*readAheadStep, readBacks)
		_ = f.Close()
	}
	wait.For(t, "the read-aheads to finish", func() bool { return len(readBacks) == 0 })
}
