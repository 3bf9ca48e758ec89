package blobstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to begin writing the n bytes of f at off
// to disk now, without waiting for them. A large upload calls it as it
// goes, so that the fsync before the commit finds little left to flush
// instead of the whole blob: the disk works while the body still streams.
// It is advice: an error is ignored, the fsync still guarantees durability.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
