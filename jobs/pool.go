package jobs

import (
	"context"
	"sync/atomic"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
)

// Pool is a fixed set of workers with a bounded queue in front of them, for
// work a request waits on (streaming a blob upload to disk). It exists so
// that the number of concurrent disk writers is a setting instead of the
// number of open connections, and so that overload is an immediate ErrBusy
// (HTTP 429) rather than a pile of goroutines.
type Pool struct {
	tasks   chan *task
	quit    chan struct{}
	closed  atomic.Bool
	workers conc.WaitGroup
	running atomic.Int64
}

// A task moves from queued to exactly one of started (a worker took it) or
// abandoned (its caller gave up, or Close failed it, before it started).
// The CAS decides the race, so fn never runs for a caller that has already
// returned.
const (
	queued int32 = iota
	started
	abandoned
)

type task struct {
	ctx   context.Context
	fn    func(context.Context)
	state atomic.Int32
	err   error         // written before done is closed
	done  chan struct{} // closed when fn returned or the task was failed
}

// NewPool starts workers goroutines (at least 1) behind a queue of queue
// tasks (at least 0: with 0 a task is accepted only by an idle worker).
func NewPool(workers, queue int) *Pool {
	workers = max(workers, 1)
	queue = max(queue, 0)
	p := &Pool{tasks: make(chan *task, queue), quit: make(chan struct{})}
	for range workers {
		p.workers.Go(p.work)
	}
	return p
}

// Do runs fn on a worker and waits for it to return.
//
// It returns ErrBusy at once when every worker is busy and the queue is
// full, ErrClosed after Close, and ctx.Err() if ctx ends before a worker
// starts fn (fn then never runs). Once fn has started, Do waits for it even
// if ctx ends; fn receives ctx and should honour it. A panic in fn is
// recovered and returned as a *PanicError.
func (p *Pool) Do(ctx context.Context, fn func(context.Context)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.closed.Load() {
		return ErrClosed
	}
	t := &task{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case p.tasks <- t:
	default:
		return ErrBusy
	}
	// Close may have drained the queue between our check and our send: a
	// task left in the queue after the workers exited would wait forever.
	if p.closed.Load() && t.state.CompareAndSwap(queued, abandoned) {
		return ErrClosed
	}
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		if t.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err() // the task stays queued until a worker skips it
		}
		<-t.done // started (or failed by Close): never leave fn running alone
		return t.err
	}
}

func (p *Pool) work() {
	for {
		select {
		case <-p.quit:
			return
		case t := <-p.tasks:
			p.run(t)
		}
	}
}

func (p *Pool) run(t *task) {
	if p.closed.Load() {
		p.fail(t) // Close has begun: queued tasks are failed, not run
		return
	}
	if !t.state.CompareAndSwap(queued, started) {
		return // abandoned: its caller has already returned
	}
	p.running.Add(1)
	var c panics.Catcher
	c.Try(func() { t.fn(t.ctx) })
	p.running.Add(-1)
	if r := c.Recovered(); r != nil {
		t.err = &PanicError{Value: r.Value, Stack: r.Stack}
	}
	close(t.done)
}

// PoolStats is a snapshot for metrics.
type PoolStats struct {
	Running int // tasks running now
	Queued  int // tasks waiting, including ones whose caller gave up
}

// Stats reports the pool's load.
func (p *Pool) Stats() PoolStats {
	return PoolStats{Running: int(p.running.Load()), Queued: len(p.tasks)}
}

// Close stops accepting tasks, fails the queued ones with ErrClosed, and
// waits for the running ones to return. It is idempotent.
func (p *Pool) Close() {
	if p.closed.Swap(true) {
		p.workers.Wait()
		return
	}
	close(p.quit)
	p.workers.Wait()
	for {
		select {
		case t := <-p.tasks:
			p.fail(t)
		default:
			return
		}
	}
}

// fail ends a task that has not started with ErrClosed.
func (p *Pool) fail(t *task) {
	if t.state.CompareAndSwap(queued, abandoned) {
		t.err = ErrClosed
		close(t.done)
	}
}
