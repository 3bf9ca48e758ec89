package reqctx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Why a request was cut off: the cause of its context.
var (
	// ErrClientGone: reading the request body from the connection failed.
	ErrClientGone = errcode.New(errcode.BadRequest, "the request body was cut short: the client went away")
	// ErrIdle: the request body made no progress for the idle timeout.
	ErrIdle = errcode.New(errcode.BadRequest, "the request body made no progress")
	// ErrShutdown: the server's shutdown timeout ran out with the request
	// still in flight.
	ErrShutdown = errcode.New(errcode.Unavailable, "the server shut down")
)

// errDone ends a request's context when its handler has returned.
var errDone = errors.New("request done")

const key = "mcr.request"

// state is one request's context and body watch.
type state struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	stopping context.Context
	rc       *fasthttp.RequestCtx
	idle     time.Duration
	start    time.Time
	body     *body

	// mu orders the watchdog against the end of the request: once done,
	// the connection may already serve the next request and must not be
	// touched.
	mu    sync.Mutex
	done  bool
	timer *time.Timer
}

// Begin gives ctx its context, derived from base (cancelled at the hard end
// of shutdown), and the idle timeout of its body (0: none); stopping ends
// when the server begins to shut down (see Waiting). The caller calls end
// once the handler has returned.
func Begin(ctx *fasthttp.RequestCtx, base, stopping context.Context, idle time.Duration) (end func()) {
	c, cancel := context.WithCancelCause(base)
	st := &state{ctx: c, cancel: cancel, stopping: stopping, rc: ctx, idle: idle, start: time.Now()}
	ctx.SetUserValue(key, st)
	return st.end
}

func (st *state) end() {
	st.mu.Lock()
	st.done = true
	if st.timer != nil {
		st.timer.Stop()
	}
	if st.body != nil {
		st.body.lowat.drop() // before the connection reads its next request
	}
	st.mu.Unlock()
	st.cancel(errDone)
}

func stateOf(ctx *fasthttp.RequestCtx) *state {
	st, _ := ctx.UserValue(key).(*state)
	return st
}

// Context is the request's context. A handler called outside the server
// (without Begin) has no connection to watch and gets context.Background.
func Context(ctx *fasthttp.RequestCtx) context.Context {
	if st := stateOf(ctx); st != nil {
		return st.ctx
	}
	return context.Background()
}

// Waiting is the context of a wait that is no work of its own, a long
// poll: the request's context, also ended when the server begins to shut
// down, so that the wait answers at once (with what it has) instead of
// holding the shutdown until its timeout. stop releases it.
func Waiting(ctx *fasthttp.RequestCtx) (c context.Context, stop func()) {
	st := stateOf(ctx)
	if st == nil {
		return context.Background(), func() {}
	}
	c, cancel := context.WithCancel(st.ctx)
	unhook := context.AfterFunc(st.stopping, cancel)
	return c, func() { unhook(); cancel() }
}

// Cut reports why the request was cut off (ErrClientGone, ErrIdle or
// ErrShutdown, possibly wrapped), or nil if it was not.
func Cut(ctx *fasthttp.RequestCtx) error {
	st := stateOf(ctx)
	if st == nil {
		return nil
	}
	cause := context.Cause(st.ctx)
	if cause == nil || errors.Is(cause, errDone) {
		return nil
	}
	return cause
}

// Body returns the request body as a stream. fasthttp hands small bodies
// over already read and streams the rest (Server.StreamRequestBody). What
// is read is counted for the access log and metrics (BytesRead): a chunked
// upload declares no length. The body is watched: a read that fails cuts
// the request off (ErrClientGone), and so does a body that makes no
// progress for the idle timeout (ErrIdle): the read blocked on the
// connection is interrupted. Every call returns the same reader.
func Body(ctx *fasthttp.RequestCtx) io.Reader {
	st := stateOf(ctx)
	if st != nil && st.body != nil {
		return st.body
	}
	// The stream first: Request.Body() would read a streamed body whole
	// into memory.
	var r io.Reader = ctx.RequestBodyStream()
	if r == nil {
		r = bytes.NewReader(ctx.Request.Body())
	}
	b := &body{r: r, st: st, declared: int64(ctx.Request.Header.ContentLength())}
	if st == nil {
		return b
	}
	b.lowat = newLowat(ctx.Conn(), b.declared)
	st.body = b
	if st.idle > 0 {
		st.mu.Lock()
		// The first look at half the timeout: a quiet body's low-water
		// mark is dropped then (lowat.go).
		st.timer = time.AfterFunc(st.idle/2, st.watch)
		st.mu.Unlock()
	}
	return b
}

// watch runs when the body may have been idle for the timeout: it cuts the
// request off if it was, or checks again when it would be. Only a read
// waiting on the client counts: a body the server is not reading yet (an
// upload queued for a worker) is not the client's stall.
func (st *state) watch() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return
	}
	quiet := time.Since(st.start) - time.Duration(st.body.last.Load())
	if st.body.reading.Load() && quiet >= st.idle/2 && st.body.lowat.drop() {
		// What the client sent under the mark wakes the reader now:
		// look again before cutting it off.
		st.timer.Reset(st.idle / 4)
		return
	}
	if !st.body.reading.Load() || quiet < st.idle {
		st.timer.Reset(max(st.idle-quiet, st.idle/4))
		return
	}
	st.cancel(fmt.Errorf("%w for %s", ErrIdle, st.idle))
	// The read blocked on the connection (on the handler's goroutine or
	// an upload worker's) fails at once.
	_ = st.rc.Conn().SetReadDeadline(time.Now())
}

// body is a request body being read: counted and watched. The counts are
// atomic: an upload is read by a pool worker while the request's goroutine
// waits.
type body struct {
	r        io.Reader
	st       *state
	declared int64 // Content-Length, or negative when chunked
	lowat    *lowat
	n        atomic.Int64
	// last is when a read began or bytes last arrived, as time since
	// st.start; reading says a read is under way.
	last    atomic.Int64
	reading atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	b.lowat.before(b.declared - b.n.Load())
	if b.st != nil {
		b.last.Store(int64(time.Since(b.st.start)))
		b.reading.Store(true)
	}
	n, err := b.r.Read(p)
	total := b.n.Add(int64(n))
	if b.st != nil {
		if n > 0 {
			b.last.Store(int64(time.Since(b.st.start)))
		}
		b.reading.Store(false)
	}
	if err == io.EOF && b.declared >= 0 && total < b.declared {
		// The connection ended before the declared length: the client
		// left, it did not send a short body.
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		// A value of its own: a reader's bare io.ErrUnexpectedEOF would
		// pass for io.ReadFull's "short last read", i.e. a body that
		// ended, to a copy loop.
		err = fmt.Errorf("%w: %w", ErrClientGone, err)
		if b.st != nil {
			b.st.cancel(err)
		}
	}
	return n, err
}

// BytesRead is how much of the request body a handler read, and whether it
// read the body at all.
func BytesRead(ctx *fasthttp.RequestCtx) (int64, bool) {
	if st := stateOf(ctx); st != nil && st.body != nil {
		return st.body.n.Load(), true
	}
	return 0, false
}
