package reqctx

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// mark reads the socket's SO_RCVLOWAT.
func mark(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if cerr := rc.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	}); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
	return v
}

// TestLowatTail: the mark is raised while more than it (and the slack) is
// still to come, and back at 1 for the last bytes, so that a tail smaller
// than the mark, sent once the reader waits for it, still wakes the
// reader (a wrong mark blocks the read below until its deadline). A small
// body, a non-socket and a dropped mark leave the socket alone.
func TestLowatTail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	const declared, tail = lowatMin, 100 << 10
	if l := newLowat(srv, lowatMin-1); l != nil {
		t.Fatal("a mark for a body under lowatMin")
	}
	if l := newLowat(struct{ net.Conn }{srv}, declared); l != nil {
		t.Fatal("a mark for a connection that hides its socket")
	}
	l := newLowat(srv, declared)
	if l == nil {
		t.Fatal("no mark for a large body on a TCP connection")
	}
	body := make([]byte, declared)
	sent := make(chan error, 1)
	go func() { _, err := client.Write(body[:declared-tail]); sent <- err }()
	buf := make([]byte, 1<<20)
	unread := int64(declared)
	read := func() {
		t.Helper()
		l.before(unread)
		if unread > lowatSize+lowatSlack {
			if m := mark(t, srv); m != lowatSize {
				t.Fatalf("%d bytes to come: mark %d, want %d", unread, m, lowatSize)
			}
		} else if m := mark(t, srv); m != 1 {
			t.Fatalf("%d bytes to come: mark %d, want 1", unread, m)
		}
		_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := srv.Read(buf[:min(int64(len(buf)), unread)])
		if err != nil {
			t.Fatalf("%d bytes to come: %v", unread, err)
		}
		unread -= int64(n)
	}
	for unread > tail {
		read()
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	go func() { _, err := client.Write(body[declared-tail:]); sent <- err }()
	for unread > 0 {
		read()
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	// Dropped: 1 for good, whatever is still to come.
	l.before(declared)
	if !l.drop() || mark(t, srv) != 1 {
		t.Fatal("drop left the mark raised")
	}
	l.before(declared)
	if m := mark(t, srv); m != 1 || l.drop() {
		t.Fatalf("a dropped mark raised again: %d", m)
	}
	go func() { _, err := client.Write([]byte("x")); sent <- err }()
	if _, err := io.ReadFull(srv, buf[:1]); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
