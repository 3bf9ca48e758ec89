package reqctx

import (
	"net"
	"sync"
	"syscall"
)

// A large upload is read into 4 MiB buffers (engine/stream.go). While the
// reader is ahead of the client, every read that finds the socket empty
// parks the goroutine on the poller, and the next few KiB that arrive wake
// it again: a third of the 1 060–1 750 reads of a 256 MiB push found
// nothing. A receive low-water mark (SO_RCVLOWAT) has the kernel report the
// socket readable only once lowatSize bytes are queued, so a waiting reader
// wakes for 256 KiB at a time (docs/benchmarks.md, "push-large").
//
// The mark must never exceed what the client has still to send, or the
// last bytes never wake the reader: it is raised only while more than
// lowatSize+lowatSlack bytes of the declared length are unread, and set
// back to 1 below that and when the handler returns, before the connection
// reads its next request. Bytes queued below the mark are invisible to the
// idle watch, so a client sending less than lowatSize per half idle timeout
// would look idle: the watch drops the mark for good once the body has
// been quiet for half the timeout, and what was queued wakes the reader.
const (
	lowatMin  = 4 << 20   // declared body size from which the mark is raised
	lowatSize = 256 << 10 // the mark
	// lowatSlack covers what was read off the socket ahead of the body's
	// reader: fasthttp's read buffer (16 KiB) and prefetched body (64 KiB),
	// a TLS record.
	lowatSlack = 128 << 10
)

// lowat is a request body's receive low-water mark; nil for a body that
// gets none (not a socket, a small body: most requests), so they allocate
// nothing for it.
type lowat struct {
	conn syscall.RawConn
	mu   sync.Mutex
	mark int  // as set on the socket; 1 is the kernel's default
	off  bool // dropped for good: a quiet body, or the request ended
}

// newLowat is the mark of a body of declared bytes read from c, or nil.
func newLowat(c net.Conn, declared int64) *lowat {
	if declared < lowatMin || !canLowat {
		return nil
	}
	rc := rawConn(c)
	if rc == nil {
		return nil
	}
	return &lowat{conn: rc, mark: 1}
}

// rawConn is the socket under c and the server's wrappers of it (which
// expose it as NetConn, as tls.Conn does), or nil.
func rawConn(c net.Conn) syscall.RawConn {
	for c != nil {
		if sc, ok := c.(syscall.Conn); ok {
			rc, err := sc.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

// before is called before each read, with the declared bytes not yet read.
func (l *lowat) before(unread int64) {
	if l == nil {
		return
	}
	want := 1
	if unread > lowatSize+lowatSlack {
		want = lowatSize
	}
	l.mu.Lock()
	if !l.off && want != l.mark {
		l.set(want)
	}
	l.mu.Unlock()
}

// drop sets the mark back to 1 for good, and says whether it was raised.
func (l *lowat) drop() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.off = true
	if l.mark == 1 {
		return false
	}
	l.set(1)
	return true
}

// set puts n on the socket; l.mu is held. A socket that refuses keeps the
// kernel's default, and the body is read as without a mark.
func (l *lowat) set(n int) {
	var err error
	if cerr := l.conn.Control(func(fd uintptr) { err = setLowat(fd, n) }); cerr != nil || err != nil {
		l.off = true
		return
	}
	l.mark = n
}
