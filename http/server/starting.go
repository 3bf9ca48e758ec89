package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
)

// Starting answers on a bound listener while the process is still opening
// its stores (a PostgreSQL that is not reachable yet is waited for, a
// crash is cleaned up): without it the port accepts connections that
// nothing answers, and a load balancer's /readyz probe or a client hangs
// until its own timeout. Meanwhile /healthz is 200 (the process is
// alive), /readyz is 503 with the reason, and every other request is 503
// UNAVAILABLE with Retry-After and Connection: close.
//
// Handoff ends the answers and returns the listener for the real server:
// one goroutine accepts on the bound listener for both, so the socket is
// never closed and no connection is refused between the two.
type Starting struct {
	ln      net.Listener
	conns   chan net.Conn
	failed  chan struct{} // closed when Accept on ln failed (ln closed)
	err     error         // Accept's error, set before failed closes
	quit    chan struct{} // closed by Close: the accept loop drops what it holds
	srv     *fasthttp.Server
	view    *handoffListener // the starting server's
	served  chan struct{}    // closed when the starting server's Serve returned
	stop    sync.Once
	closing sync.Once
}

// startingDrain bounds how much of a request body is read and dropped
// while starting; past it the connection is closed (ReadTimeout bounds
// the time).
const startingDrain = 64 << 20

// errStarting is /readyz's reason while the process starts.
var errStarting = errors.New("starting: opening the stores")

// ServeStarting starts answering on ln. The caller must end it with
// Handoff (then serve the listener it returns) or Close.
func ServeStarting(ln net.Listener) *Starting {
	s := &Starting{ln: ln, conns: make(chan net.Conn), failed: make(chan struct{}), quit: make(chan struct{}), served: make(chan struct{})}
	ready := metrics.Readyz(func() error { return errStarting })
	s.srv = &fasthttp.Server{
		Name:         "mcr",
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  time.Second,
		// Streamed, a large upload's PUT gets the 503 too instead of a
		// 400 for a body over the default limit.
		StreamRequestBody: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetConnectionClose() // the next request reaches the real server
			switch string(ctx.Path()) {
			case HealthzPath:
				metrics.Healthz(ctx)
			case ReadyzPath:
				ready(ctx)
			default:
				// Read and drop what the client is still sending, so that it
				// reads the answer instead of a reset connection.
				if body := ctx.RequestBodyStream(); body != nil {
					_, _ = io.CopyN(io.Discard, body, startingDrain)
				}
				distapi.WriteError(ctx, errcode.New(errcode.Unavailable, "the registry is starting; retry later"))
			}
		},
	}
	s.view = &handoffListener{s: s, closed: make(chan struct{})}
	go s.accept()
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.view)
	}()
	return s
}

// accept hands each connection of ln to whichever server listens now.
func (s *Starting) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.err = err
			close(s.failed)
			return
		}
		select {
		case s.conns <- c:
		case <-s.quit:
			_ = c.Close()
			return
		}
	}
}

// Handoff stops the starting answers, waiting (bounded) for the requests
// in flight, and returns the listener the real server serves: closing it
// closes the bound listener.
func (s *Starting) Handoff() net.Listener {
	s.stopStarting()
	return &handoffListener{s: s, closed: make(chan struct{}), own: true}
}

// Close ends everything, the bound listener included: for a start that
// fails before Handoff.
func (s *Starting) Close() {
	s.stopStarting()
	s.closeAll()
}

func (s *Starting) stopStarting() {
	s.stop.Do(func() {
		// Closing the view ends Serve even if it has not begun yet
		// (fasthttp's Shutdown returns at once then); Shutdown waits,
		// bounded, for the answers in flight, which carry
		// Connection: close.
		_ = s.view.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.ShutdownWithContext(ctx)
		<-s.served
	})
}

func (s *Starting) closeAll() {
	s.closing.Do(func() {
		close(s.quit)
		_ = s.ln.Close()
	})
}

// handoffListener is a server's view of the bound listener: Accept takes
// the next connection the accept loop holds. Closing the starting
// server's view only ends its Serve; closing the real server's (own)
// closes the bound listener.
type handoffListener struct {
	s      *Starting
	closed chan struct{}
	once   sync.Once
	own    bool
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.s.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.s.failed:
		return nil, l.s.err
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		if l.own {
			l.s.closeAll()
		}
	})
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.s.ln.Addr() }
