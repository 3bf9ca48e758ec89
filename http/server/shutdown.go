package server

import (
	"context"
	"net"
	"sync"
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
// of shutdown can close the ones still busy. It is touched when a
// connection opens and closes, never per request.
type conns struct {
	mu      sync.Mutex
	m       map[net.Conn]struct{}
	closing bool
	gone    chan struct{} // closed when closing and none is left
}

func newConns() *conns { return &conns{m: map[net.Conn]struct{}{}, gone: make(chan struct{})} }

func (c *conns) state(conn net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		c.mu.Lock()
		c.m[conn] = struct{}{}
		c.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		c.mu.Lock()
		delete(c.m, conn)
		c.signal()
		c.mu.Unlock()
	}
}

// signal closes gone once closing has begun and no connection is left;
// c.mu is held.
func (c *conns) signal() {
	if c.closing && len(c.m) == 0 {
		select {
		case <-c.gone:
		default:
			close(c.gone)
		}
	}
}

// closeAll closes every open connection and returns a channel closed once
// their goroutines have let go of them.
func (c *conns) closeAll() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	for conn := range c.m {
		// Under TLS, close the socket itself: tls.Conn.Close first writes
		// an alert, which can block on a client that reads nothing.
		if t, ok := conn.(interface{ NetConn() net.Conn }); ok {
			_ = t.NetConn().Close()
		} else {
			_ = conn.Close()
		}
	}
	c.signal()
	return c.gone
}

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
