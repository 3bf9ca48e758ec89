package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a System. The zero value is usable.
type Options struct {
	// MailboxSize bounds each actor's queue. Default 64.
	MailboxSize int
	// IdleTimeout stops an actor that received nothing for this long, so
	// the goroutine count follows the active keys, not every key ever seen.
	// Default 30s.
	IdleTimeout time.Duration
	// Clock makes the idle timers; nil is the real clock.
	Clock Clock
	// OnPanic, when set, is told about every panic a message raised, on
	// the actor's goroutine. A panic inside OnPanic itself is swallowed.
	OnPanic func(key any, recovered any)
}

// Stats is a snapshot for metrics.
type Stats struct {
	Actors int // live actors
	Queued int // messages waiting in mailboxes, including ones whose caller gave up
}

// System runs one actor goroutine per key.
//
// Lookups use a sync.Map, and a send takes only the target actor's own
// mutex, so keys never contend with each other on the request path. The
// system mutex mu is taken only to spawn an actor, when an actor exits, and
// by Stop: never while a message runs.
type System[K comparable] struct {
	opts   Options
	actors sync.Map // K → *actor; an actor is here from spawn until it retires or exits

	mu       sync.Mutex
	live     int           // actor goroutines not yet exited; guarded by mu
	stopped  atomic.Bool   // written under mu, read without it on the fast path
	stopping chan struct{} // closed when Stop begins
	drained  chan struct{} // closed when stopped and live reaches 0
}

// actor is one key's mailbox. mu orders a send against retirement and
// against Stop closing the mailbox: both set dead under mu, and a send
// happens only under mu on an actor that is not dead. So a message is
// either in the mailbox before the actor decides to retire (and the actor
// sees it and stays), or the sender sees dead and goes to a fresh actor.
type actor struct {
	mailbox chan *message
	mu      sync.Mutex
	dead    bool
}

// A message moves from pending to exactly one of running (the actor took
// it) or abandoned (Ask gave up because its ctx ended first). The CAS
// decides the race, so fn never runs for a caller that already returned.
const (
	pending int32 = iota
	running
	abandoned
)

type message struct {
	ctx   context.Context
	fn    func(context.Context) error
	state atomic.Int32
	done  chan error // buffered: the actor never blocks on a caller
}

// New returns an empty System; actors are spawned by Ask.
func New[K comparable](opts Options) *System[K] {
	if opts.MailboxSize <= 0 {
		opts.MailboxSize = 64
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	return &System[K]{
		opts:     opts,
		stopping: make(chan struct{}),
		drained:  make(chan struct{}),
	}
}

// Ask runs fn on key's actor, after every message queued for key before
// it, and returns fn's error.
//
// A full mailbox returns ErrBusy at once. If ctx ends before fn starts, fn
// never runs and ctx.Err() is returned without waiting for the messages
// ahead of it. Once fn has started, Ask waits for it even if ctx ends (fn
// is given ctx and should honour it): the caller never walks away from a
// half-applied mutation. A panic in fn returns an error wrapping ErrPanic.
func (s *System[K]) Ask(ctx context.Context, key K, fn func(ctx context.Context) error) error {
	m, err := s.send(ctx, key, fn)
	if err != nil {
		return err
	}
	return m.wait()
}

// send queues fn on key's actor without waiting for it. It is Ask's first
// half, kept separate so tests can queue several messages from one
// goroutine.
func (s *System[K]) send(ctx context.Context, key K, fn func(context.Context) error) (*message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &message{ctx: ctx, fn: fn, done: make(chan error, 1)}
	for {
		if s.stopped.Load() {
			return nil, ErrStopped
		}
		a, err := s.lookup(key)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.dead {
			// It retired (and left the map) or Stop closed it between
			// lookup and Lock: look again, spawning a fresh actor or
			// seeing ErrStopped.
			a.mu.Unlock()
			continue
		}
		select {
		case a.mailbox <- m:
			a.mu.Unlock()
			return m, nil
		default:
			a.mu.Unlock()
			return nil, ErrBusy
		}
	}
}

// lookup returns key's actor, spawning it if there is none. Spawning is
// under mu so that it cannot slip past Stop: an actor is either spawned
// before Stop sets stopped (and Stop then closes it), or not at all.
func (s *System[K]) lookup(key K) (*actor, error) {
	if v, ok := s.actors.Load(key); ok {
		return v.(*actor), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped.Load() {
		return nil, ErrStopped
	}
	if v, ok := s.actors.Load(key); ok { // another sender spawned it first
		return v.(*actor), nil
	}
	a := &actor{mailbox: make(chan *message, s.opts.MailboxSize)}
	s.actors.Store(key, a)
	s.live++
	go s.run(key, a)
	return a, nil
}

// wait returns fn's result, or ctx's error if ctx ends before the actor
// takes the message.
func (m *message) wait() error {
	select {
	case err := <-m.done:
		return err
	case <-m.ctx.Done():
		if m.state.CompareAndSwap(pending, abandoned) {
			// The message stays in the mailbox until the actor skips it;
			// that costs one slot, never a run.
			return m.ctx.Err()
		}
		return <-m.done // fn is running: never leave it half-applied
	}
}

// run is key's actor goroutine. It takes one message at a time until it has
// been idle for IdleTimeout or Stop closed its mailbox and it drained.
func (s *System[K]) run(key K, a *actor) {
	idle := s.opts.Clock.NewTimer(s.opts.IdleTimeout)
	exited := false
	defer func() {
		idle.Stop()
		if !exited {
			// A message called runtime.Goexit, which recover cannot stop.
			// Its caller has been answered (see deliver); carry on in a
			// fresh goroutine so the messages queued behind it still run.
			go s.run(key, a)
			return
		}
		s.exit(key, a)
	}()
	for {
		select {
		case m, ok := <-a.mailbox:
			if !ok {
				exited = true
				return
			}
			s.deliver(key, m)
			idle.Reset(s.opts.IdleTimeout)
		case <-idle.C():
			if s.retire(key, a) {
				exited = true
				return
			}
			idle.Reset(s.opts.IdleTimeout)
		}
	}
}

// retire removes a from the map if nothing is queued for it. The check and
// the removal happen under a.mu, the lock every send takes, so no message
// can land in a mailbox nobody will read; see actor.
func (s *System[K]) retire(key K, a *actor) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead || len(a.mailbox) > 0 {
		// dead: Stop closed the mailbox; the actor exits when it has
		// drained it, not before.
		return false
	}
	a.dead = true
	// Removed before unlocking, so a sender that sees dead never finds
	// this actor again and cannot spin on it.
	s.actors.CompareAndDelete(key, a)
	return true
}

// exit accounts for an actor goroutine that has finished for good.
func (s *System[K]) exit(key K, a *actor) {
	s.actors.CompareAndDelete(key, a) // no-op after retire; needed after Stop
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live--
	if s.stopped.Load() && s.live == 0 {
		close(s.drained)
	}
}

// deliver runs m unless its caller gave up, and always answers a caller
// that is still waiting.
func (s *System[K]) deliver(key K, m *message) {
	if !m.state.CompareAndSwap(pending, running) {
		return // abandoned: Ask already returned ctx.Err()
	}
	if err := m.ctx.Err(); err != nil {
		// Ended while queued but Ask has not noticed yet: same contract,
		// fn does not run.
		m.done <- err
		return
	}
	m.done <- s.call(key, m)
}

// call runs m.fn and turns a panic, or a runtime.Goexit, into an error so
// one bad message cannot kill the actor or strand its caller.
func (s *System[K]) call(key K, m *message) (err error) {
	returned := false
	defer func() {
		if returned {
			return
		}
		p := recover()
		if p == nil { // runtime.Goexit: no panic value, the goroutine ends anyway
			m.done <- fmt.Errorf("%w: runtime.Goexit called\n%s", ErrPanic, debug.Stack())
			return
		}
		err = fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
		s.reportPanic(key, p)
	}()
	err = m.fn(m.ctx)
	returned = true
	return err
}

func (s *System[K]) reportPanic(key K, p any) {
	if s.opts.OnPanic == nil {
		return
	}
	defer func() { _ = recover() }() // a broken hook must not take the actor down
	s.opts.OnPanic(key, p)
}

// Stop refuses new messages, lets every actor run what is already queued,
// and waits until every actor goroutine has exited or ctx ends. It may be
// called again, e.g. after a ctx that ended too early.
func (s *System[K]) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.stopped.Load() {
		s.stopped.Store(true)
		close(s.stopping)
		if s.live == 0 {
			close(s.drained)
		}
	}
	s.mu.Unlock()
	// No actor can be spawned from here on (see lookup), so this visits
	// every actor that will ever need closing. A retired one is dead
	// already and has left or is leaving on its own.
	s.actors.Range(func(_, v any) bool {
		a := v.(*actor)
		a.mu.Lock()
		if !a.dead {
			a.dead = true
			close(a.mailbox)
		}
		a.mu.Unlock()
		return true
	})
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reports live actors and queued messages. It walks the map, which
// is fine at metrics-scrape rate and keeps counters off the request path.
func (s *System[K]) Stats() Stats {
	var st Stats
	s.actors.Range(func(_, v any) bool {
		st.Actors++
		st.Queued += len(v.(*actor).mailbox)
		return true
	})
	return st
}
