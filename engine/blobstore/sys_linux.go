package blobstore

import (
	"os"

	"golang.org/x/sys/unix"
)

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
// bounds the goroutines advising large files, per purpose.
const (
	readAheadStep = 8 << 20
	maxReadAheads = 4
)

// readBacks and prefetches are the slots of the two kinds of read-ahead:
// the read-back of bytes just written direct, and the prefetch of a blob
// about to be served. Apart, so that a push's read-backs, which may fill
// theirs, never cost a pull its prefetch.
var (
	readBacks  = make(chan struct{}, maxReadAheads)
	prefetches = make(chan struct{}, maxReadAheads)
)

// readAhead has the kernel read the n bytes of f at off into the page
// cache. The advice blocks while the kernel queues the reads (milliseconds
// for 8 MiB) and one call covers only about 8 MiB, so it is given in steps
// on a goroutine of its own, on a duplicate of the descriptor that the
// caller may close meanwhile; at most maxReadAheads run at once in slots,
// and a range that finds them all busy is left to the kernel's ordinary
// readahead. Advice only: errors are ignored.
func readAhead(f *os.File, off, n int64, slots chan struct{}) {
	fd := int(f.Fd())
	select {
	case slots <- struct{}{}:
	default:
		return
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		<-slots
		return
	}
	go func() {
		defer func() { <-slots }()
		defer unix.Close(dup)
		for end := off + n; off < end; off += readAheadStep {
			_ = unix.Fadvise(dup, off, min(readAheadStep, end-off), unix.FADV_WILLNEED)
		}
	}()
}

// canSyncFS says syncFS is available (Barrier).
const canSyncFS = true

// syncFS writes out every dirty page and inode of the filesystem holding
// f and flushes the disk's cache; since Linux 5.8 it reports writeback
// errors of that filesystem.
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }

// deviceOf is the device number of the filesystem holding path.
func deviceOf(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Dev, nil
}
