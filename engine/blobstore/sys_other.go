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
func readAhead(*os.File, int64, int64, chan struct{}) {}

// readBack is a no-op: direct I/O is only used on Linux.
func readBack(*os.File, int64, int64) {}

var readBacks, prefetches chan struct{}

// canSyncFS is false: there is no syncfs(2) here, so NewBarrier refuses
// and every write is fsynced on its own.
const canSyncFS = false

func syncFS(*os.File) error { return errors.ErrUnsupported }

func deviceOf(string) (uint64, error) { return 0, errors.ErrUnsupported }
