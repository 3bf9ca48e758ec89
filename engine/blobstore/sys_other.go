//go:build !linux

package blobstore

import (
	"errors"
	"os"
)

// openDirect opens path without direct I/O: it is only used on Linux.
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag, perm)
	return f, false, err
}

func setDirect(*os.File, bool) error { return errors.New("blobstore: no direct I/O here") }

// startWriteback is a no-op where the kernel offers no sync_file_range;
// the fsync before the commit does all the flushing.
func startWriteback(*os.File, int64, int64) {}

// readAhead is a no-op where the kernel offers no fadvise.
func readAhead(*os.File, int64, int64) {}
