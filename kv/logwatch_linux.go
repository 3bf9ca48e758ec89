package kv

import (
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

// changed drains the queued events and reports whether there were any.
// Any event, an overflowed queue (itself an event) and any error all
// count as a change: listing too often costs a listing, missing a new
// log would acknowledge a commit nobody synced.
func (w *dirWatch) changed() bool {
	changed := false
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
	}
}

func (w *dirWatch) close() { _ = syscall.Close(w.fd) }
