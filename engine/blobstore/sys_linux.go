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

// readAheadStep is how much one WILLNEED advice reads; maxReadAheads
// bounds the goroutines advising large files.
const (
	readAheadStep = 8 << 20
	maxReadAheads = 4
)

var readAheads = make(chan struct{}, maxReadAheads)

// readAhead has the kernel read the n bytes of f at off into the page
// cache. One WILLNEED covers about 8 MiB (the kernel caps each call), so
// a longer range is advised in steps on a goroutine of its own, on a
// duplicate of the descriptor that the caller may close meanwhile; at
// most maxReadAheads run at once, and a range that finds them all busy is
// left to the kernel's ordinary readahead. Advice only: errors are
// ignored.
func readAhead(f *os.File, off, n int64) {
	fd := int(f.Fd())
	if n <= readAheadStep {
		_ = unix.Fadvise(fd, off, n, unix.FADV_WILLNEED)
		return
	}
	select {
	case readAheads <- struct{}{}:
	default:
		return
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		<-readAheads
		return
	}
	go func() {
		defer func() { <-readAheads }()
		defer unix.Close(dup)
		for end := off + n; off < end; off += readAheadStep {
			_ = unix.Fadvise(dup, off, min(readAheadStep, end-off), unix.FADV_WILLNEED)
		}
	}()
}
