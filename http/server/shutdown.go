package server

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// Shutdown in three steps (docs/operations.md, "Restarts and draining"):
// Drain turns /readyz to 503 while everything is still served; Shutdown
// closes the listener and lets in-flight requests finish until its ctx
// ends; then it cuts off what is left: every request's context is
// cancelled (reqctx.ErrShutdown) and every connection closed, which fails
// the reads of bodies still arriving, and it waits a bounded moment for
// the handlers to return.

// cutGrace bounds the wait for handlers to return once their connections
// are closed.
const cutGrace = time.Second

// baseShards spreads the requests' contexts over several parents: each
// request's context registers with its parent under the parent's lock, so
// one parent would be a lock every request takes.
const baseShards = 32

// lifetime is the server's side of its requests' contexts: root ends at
// the hard end of shutdown, stopping when shutdown begins.
type lifetime struct {
	stopping context.Context
	stop     context.CancelFunc
	root     context.Context
	cancel   context.CancelCauseFunc
	shards   [baseShards]context.Context
	cancels  [baseShards]context.CancelFunc // unused: the root's cancellation reaches the shards
}

func newLifetime() *lifetime {
	l := &lifetime{}
	l.stopping, l.stop = context.WithCancel(context.Background())
	l.root, l.cancel = context.WithCancelCause(context.Background())
	for i := range l.shards {
		l.shards[i], l.cancels[i] = context.WithCancel(l.root)
	}
	return l
}

// base is the parent context of a request on connection id.
func (l *lifetime) base(id uint64) context.Context { return l.shards[id%baseShards] }

// conns tracks the open connections (Server.ConnState), so that the end
// of shutdown can close the ones still busy, and a quiet server can close
// the ones waiting for a request (CloseIdle). Opening and closing take the
// lock; a request only flips its connection's idle flag, found in a
// sync.Map without a lock.
type conns struct {
	all     sync.Map // net.Conn → *conn
	mu      sync.Mutex
	n       int
	closing bool
	gone    chan struct{} // closed when closing and none is left
}

// conn is one open connection's state.
type conn struct {
	idle   atomic.Bool   // between a response and the next request
	closed chan struct{} // closed when its goroutine has let go of it
}

func newConns() *conns { return &conns{gone: make(chan struct{})} }

func (c *conns) state(nc net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		c.all.Store(nc, &conn{closed: make(chan struct{})})
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	case fasthttp.StateActive, fasthttp.StateIdle:
		if v, ok := c.all.Load(nc); ok {
			v.(*conn).idle.Store(st == fasthttp.StateIdle)
		}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		v, ok := c.all.LoadAndDelete(nc)
		if !ok {
			return
		}
		c.mu.Lock()
		c.n--
		c.signal()
		c.mu.Unlock()
		close(v.(*conn).closed)
	}
}

// signal closes gone once closing has begun and no connection is left;
// c.mu is held.
func (c *conns) signal() {
	if c.closing && c.n == 0 {
		select {
		case <-c.gone:
		default:
			close(c.gone)
		}
	}
}

// closeConn closes nc. Under TLS it closes the socket itself:
// tls.Conn.Close first writes an alert, which can block on a client that
// reads nothing.
func closeConn(nc net.Conn) {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok {
		_ = t.NetConn().Close()
	} else {
		_ = nc.Close()
	}
}

// closeAll closes every open connection and returns a channel closed once
// their goroutines have let go of them.
func (c *conns) closeAll() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	c.all.Range(func(k, _ any) bool {
		closeConn(k.(net.Conn))
		return true
	})
	c.signal()
	return c.gone
}

// closeIdle closes the connections waiting for their next request and
// waits, at most grace, until their goroutines have let go of them (and
// of their buffers). It returns how many it closed.
func (c *conns) closeIdle(grace time.Duration) int {
	var closed []chan struct{}
	c.all.Range(func(k, v any) bool {
		if e := v.(*conn); e.idle.Load() {
			closeConn(k.(net.Conn))
			closed = append(closed, e.closed)
		}
		return true
	})
	t := time.NewTimer(grace)
	defer t.Stop()
	for _, ch := range closed {
		select {
		case <-ch:
		case <-t.C:
			return len(closed)
		}
	}
	return len(closed)
}

// CloseIdle closes the keep-alive connections that wait for their next
// request, as an idle timeout would, and returns once their goroutines
// have let go of them (at most a second) with how many it closed. Each
// holds about 30 KiB (fasthttp's 16 KiB read and 4 KiB write buffers, its
// request context, a goroutine's stack) for as long as the client keeps
// it, and clients keep them for 90 s or more: 500 of them were 13 MiB of
// a quiet server's live heap (docs/benchmarks.md, "Memory"). As with any
// idle timeout, a request sent at the very moment its connection is closed
// gets no answer; clients retry such a request on a new connection when
// it is idempotent, as they must when any server times out.
func (s *Server) CloseIdle() int { return s.conns.closeIdle(cutGrace) }

// Drain makes /readyz answer 503 from now on, so that a load balancer
// stops sending new requests; everything else is still served.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends; long polls (reqctx.Waiting) answer at once. Then it cuts
// off the requests still running (their contexts are cancelled, their
// connections closed) and waits up to cutGrace for their handlers to
// return. It returns ctx's error if requests had to be cut off.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	s.life.stop() // long polls answer now
	err := s.srv.ShutdownWithContext(ctx)
	if err == nil {
		return nil
	}
	s.life.cancel(reqctx.ErrShutdown)
	t := time.NewTimer(cutGrace)
	defer t.Stop()
	select {
	case <-s.conns.closeAll():
	case <-t.C:
		s.log.Warn().Msg("requests still running after their connections were closed")
	}
	return err
}
