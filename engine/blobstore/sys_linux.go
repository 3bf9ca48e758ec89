package blobstore

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openDirect opens path with O_DIRECT added to flag, or without it when
// the filesystem refuses it (tmpfs, some network filesystems).
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag|syscall.O_DIRECT, perm)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, syscall.EINVAL) {
		return nil, false, err
	}
	f, err = os.OpenFile(path, flag, perm)
	return f, false, err
}

// setDirect turns O_DIRECT on or off for f's later writes.
func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

// startWriteback asks the kernel to begin writing the n bytes of f at off
// to disk now, without waiting for them.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// Prefetch asks the kernel to start reading the first n bytes of f into
// the page cache now. A blob written with direct I/O is not in the cache
// when it is first pulled; without the advice sendfile reads it in
// readahead-sized steps only as fast as the socket drains, so disk and
// network take turns (a cold 256 MiB pull ran at 70 % of a warm one).
// Advice only: errors are ignored.
func Prefetch(f *os.File, n int64) {
	_ = unix.Fadvise(int(f.Fd()), 0, n, unix.FADV_WILLNEED)
}
