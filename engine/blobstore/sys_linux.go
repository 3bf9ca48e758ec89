package blobstore

import (
	"os"
	"sync"

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

// readBackStep is how much one sendfile of a read-back asks for.
const readBackStep = 64 << 20

// devNull is the sink of the read-backs, opened once.
var devNull = sync.OnceValues(func() (int, error) {
	return unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
})

// readBack has the kernel read the n bytes of f at off, just written with
// direct I/O, back into the page cache, on a goroutine and in one of the
// readBacks slots (none free: left to the kernel's ordinary readahead).
// It sendfiles them to /dev/null rather than advising WILLNEED: neither
// copies to user space, but the advice fills the cache one 4 KiB page at
// a time, while a read goes through the ordinary readahead, which
// allocates large folios where the filesystem has them (ext4 and xfs on
// recent kernels). BenchmarkPushLarge (engine): 408–412 ms of CPU per
// 256 MiB push advised, 373–378 read, in the same minutes. Where memory
// is too fragmented for large folios the kernel compacts it first and
// the read costs more than the advice; a registry's memory is mostly
// page cache of blobs, which frees large blocks when reclaimed.
// f is write-only and may be in O_DIRECT mode, so the read has a
// descriptor of its own, opened by name now, while the file still has
// its staging name (the commit renames it). Advice only: errors are
// ignored.
func readBack(f *os.File, off, n int64) {
	null, err := devNull()
	if err != nil {
		readAhead(f, off, n, readBacks)
		return
	}
	select {
	case readBacks <- struct{}{}:
	default:
		return
	}
	fd, err := unix.Open(f.Name(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		<-readBacks
		return
	}
	go func() {
		defer func() { <-readBacks }()
		defer unix.Close(fd)
		for end := off + n; off < end; {
			k, err := unix.Sendfile(null, fd, &off, int(min(readBackStep, end-off)))
			if err == unix.EINTR {
				continue
			}
			if err != nil || k == 0 {
				return
			}
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
