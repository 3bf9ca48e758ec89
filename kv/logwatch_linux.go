package kv

import (
	"encoding/binary"
	"errors"
	"syscall"
)

// dirWatch tells logSync whether Badger's directory may have gained or
// lost a file since the last look, so that a sync lists the directory
// only then (a listing is an open, two getdents and a close: at mount
// rates, one sync per few commits, 3–4 % of the server's CPU). It is an
// inotify instance on the directory: the kernel queues a file's creation,
// removal or rename before the call that made it returns, so a commit
// written to a log Badger has just created is acknowledged only after a
// sync that finds the event, whatever goroutine runs it.
type dirWatch struct {
	fd  int
	buf [4096]byte
	// lost is set once the watch no longer follows the directory at its
	// path (moved or removed, or the kernel dropped the watch): from then
	// on every sync lists it.
	lost bool
}

// watchDir starts watching dir; the caller falls back to listing on
// every sync when it fails (an inotify limit reached, say).
func watchDir(dir string) (*dirWatch, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	const events = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF
	if _, err := syscall.InotifyAddWatch(fd, dir, events); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	return &dirWatch{fd: fd}, nil
}

// changed drains the queued events and reports whether there were any,
// or the watch was lost. Any event, an overflowed queue (itself an
// event) and any error all count as a change: listing too often costs a
// listing, missing a new log would acknowledge a commit nobody synced.
func (w *dirWatch) changed() bool {
	changed := w.lost
	for {
		n, err := syscall.Read(w.fd, w.buf[:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return changed
		case err != nil || n <= 0:
			return true
		}
		changed = true
		w.lost = w.lost || lostIn(w.buf[:n])
	}
}

// lostIn reports whether the events in b include the end of the watch:
// the directory moved away or removed (another may take its path, whose
// files would send no events), or the watch dropped by the kernel.
func lostIn(b []byte) bool {
	const gone = syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_IGNORED
	// struct inotify_event: wd int32, mask uint32, cookie uint32, len
	// uint32, then len bytes of name.
	for len(b) >= syscall.SizeofInotifyEvent {
		if binary.NativeEndian.Uint32(b[4:])&gone != 0 {
			return true
		}
		b = b[min(len(b), syscall.SizeofInotifyEvent+int(binary.NativeEndian.Uint32(b[12:]))):]
	}
	return false
}

func (w *dirWatch) close() { _ = syscall.Close(w.fd) }
