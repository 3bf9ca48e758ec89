package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrBusy is returned by Ask when the key's mailbox is full. Callers
	// shed load (HTTP 429) rather than queue without bound.
	ErrBusy = errors.New("actors: mailbox full")
	// ErrStopped is returned by Ask after Stop.
	ErrStopped = errors.New("actors: system stopped")
	// ErrPanic wraps a panic recovered from a message.
	ErrPanic = errors.New("actors: message panicked")
)

// Options configures a System.
type Options struct {
	// MailboxSize bounds each actor's queue. Default 64.
	MailboxSize int
	// IdleTimeout stops an actor that received nothing for this long.
	// Default 30s.
	IdleTimeout time.Duration
	// Clock makes idle stops testable; nil is the real clock.
	Clock Clock
	// OnPanic, when set, is told about every panic a message raised.
	OnPanic func(key any, recovered any)
}

// Stats is a snapshot for metrics.
type Stats struct {
	Actors int // live actors
	Queued int // messages waiting in mailboxes
}

// System runs one actor goroutine per key.
//
// The request path takes no lock shared between keys: actors live in a
// sync.Map, and each actor has its own small mutex that orders a send into
// its mailbox against its own retirement.
type System[K comparable] struct {
	opts   Options
	actors sync.Map // K → *actor

	// stopped refuses new messages; inflight counts enqueues in progress
	// so that Stop can wait for them before closing mailboxes.
	stopped  atomic.Bool
	inflight atomic.Int64
	wg       sync.WaitGroup
}

type message struct {
	ctx  context.Context
	fn   func(context.Context) error
	done chan error
}

type actor struct {
	mailbox chan message
	// mu orders enqueues against retire and Stop. dead is set when the
	// actor will take no more messages (retired or stopped).
	mu   sync.Mutex
	dead bool
}

// New returns an empty System.
func New[K comparable](o Options) *System[K] {
	if o.MailboxSize <= 0 {
		o.MailboxSize = 64
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return &System[K]{opts: o}
}

// Ask runs fn on key's actor, after every message queued before it, and
// returns fn's error. If ctx ends before fn starts, fn never runs and the
// context's error is returned; once fn has started Ask waits for it, so a
// caller never walks away from a half-applied mutation.
func (s *System[K]) Ask(ctx context.Context, key K, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := message{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := s.enqueue(key, m); err != nil {
		return err
	}
	return <-m.done
}

// enqueue puts m in key's mailbox, spawning the actor if there is none. An
// actor retires only under its mutex after seeing an empty mailbox, and a
// send happens only under the same mutex on an actor that is not dead, so
// a message is either queued before the retirement check or goes to a
// fresh actor after it: none is lost.
func (s *System[K]) enqueue(key K, m message) error {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		if s.stopped.Load() {
			return ErrStopped
		}
		v, ok := s.actors.Load(key)
		if !ok {
			fresh := &actor{mailbox: make(chan message, s.opts.MailboxSize)}
			if v, ok = s.actors.LoadOrStore(key, fresh); !ok {
				s.wg.Add(1)
				go s.run(key, fresh)
			}
		}
		a := v.(*actor)
		a.mu.Lock()
		if a.dead {
			a.mu.Unlock()
			if s.stopped.Load() {
				return ErrStopped
			}
			continue // retired between Load and Lock: spawn a new one
		}
		select {
		case a.mailbox <- m:
			a.mu.Unlock()
			return nil
		default:
			a.mu.Unlock()
			return ErrBusy
		}
	}
}

// run is the actor's goroutine: it takes messages one at a time until it
// has been idle for IdleTimeout or the system stops.
func (s *System[K]) run(key K, a *actor) {
	defer s.wg.Done()
	idle := s.opts.Clock.NewTimer(s.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case m, ok := <-a.mailbox:
			if !ok { // Stop closed the mailbox after the queue drained.
				return
			}
			s.handle(key, m)
			idle.Reset(s.opts.IdleTimeout)
		case <-idle.C():
			if s.retire(key, a) {
				return
			}
			idle.Reset(s.opts.IdleTimeout)
		}
	}
}

// retire removes the actor if nothing is queued for it; see enqueue.
func (s *System[K]) retire(key K, a *actor) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mailbox) > 0 || a.dead {
		return false
	}
	a.dead = true
	s.actors.CompareAndDelete(key, a)
	return true
}

func (s *System[K]) handle(key K, m message) {
	if err := m.ctx.Err(); err != nil {
		m.done <- err
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if s.opts.OnPanic != nil {
				s.opts.OnPanic(key, p)
			}
			m.done <- fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
		}
	}()
	m.done <- m.fn(m.ctx)
}

// Stop refuses new messages, lets every actor finish what is queued, and
// waits for all actor goroutines to exit or ctx to end.
func (s *System[K]) Stop(ctx context.Context) error {
	s.stopped.Store(true)
	// Enqueues that passed the stopped check finish (they never block);
	// after that no new actor can appear.
	for s.inflight.Load() > 0 {
		runtime.Gosched()
	}
	s.actors.Range(func(_, v any) bool {
		a := v.(*actor)
		a.mu.Lock()
		if !a.dead {
			a.dead = true
			close(a.mailbox) // the actor drains what is queued, then exits
		}
		a.mu.Unlock()
		return true
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reports live actors and queued messages.
func (s *System[K]) Stats() Stats {
	var st Stats
	s.actors.Range(func(_, v any) bool {
		st.Actors++
		st.Queued += len(v.(*actor).mailbox)
		return true
	})
	return st
}
