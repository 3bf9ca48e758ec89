//go:build !linux

package blobstore

import (
	"errors"
	"os"
)

// setDirect fails: direct I/O is only used on Linux.
func setDirect(*os.File, bool) error { return errors.New("blobstore: no direct I/O here") }

// startWriteback is a no-op where the kernel offers no sync_file_range;
// the fsync before the commit does all the flushing.
func startWriteback(*os.File, int64, int64) {}

// readAhead is a no-op where the kernel offers no fadvise.
func readAhead(*os.File, int64, int64) {}
