package actors

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock hands out timers that fire only when the test says so.
type fakeClock struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct{ c chan time.Time }

func (f *fakeClock) NewTimer(time.Duration) Timer {
	t := &fakeTimer{c: make(chan time.Time, 1)}
	f.mu.Lock()
	f.timers = append(f.timers, t)
	f.mu.Unlock()
	return t
}

func (t *fakeTimer) C() <-chan time.Time      { return t.c }
func (t *fakeTimer) Stop() bool               { return true }
func (t *fakeTimer) Reset(time.Duration) bool { return true }

// fireAll makes every timer made so far expire once.
func (f *fakeClock) fireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.timers {
		select {
		case t.c <- time.Time{}:
		default:
		}
	}
}

func stop(t *testing.T, s interface{ Stop(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestSerialPerKey(t *testing.T) {
	s := New[string](Options{MailboxSize: 1024})
	defer stop(t, s)
	counter := 0 // deliberately unsynchronized: the actor is the only writer
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				if err := s.Ask(context.Background(), "k", func(context.Context) error { counter++; return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if counter != 1000 {
		t.Fatalf("counter = %d, want 1000", counter)
	}
}

func TestFIFO(t *testing.T) {
	s := New[int](Options{MailboxSize: 128})
	defer stop(t, s)
	var order []int
	gate := make(chan struct{})
	// Hold the actor so that the next messages queue up behind the gate.
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Ask(context.Background(), 1, func(context.Context) error { <-gate; return nil }) })
	for s.Stats().Actors == 0 {
		time.Sleep(time.Millisecond)
	}
	var results []chan error
	for i := range 100 {
		m := message{ctx: context.Background(), fn: func(context.Context) error { order = append(order, i); return nil }, done: make(chan error, 1)}
		if err := s.enqueue(1, m); err != nil {
			t.Fatal(err)
		}
		results = append(results, m.done)
	}
	close(gate)
	for _, r := range results {
		<-r
	}
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("message %d ran at position %d", v, i)
		}
	}
}

func TestKeysRunConcurrently(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	bDone := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Ask(context.Background(), "a", func(context.Context) error {
			select {
			case <-bDone:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("key b never ran while key a was busy")
			}
		})
	}()
	if err := s.Ask(context.Background(), "b", func(context.Context) error { close(bDone); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestBusy(t *testing.T) {
	s := New[string](Options{MailboxSize: 2})
	defer stop(t, s)
	gate, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Ask(context.Background(), "k", func(context.Context) error { close(started); <-gate; return nil })
	})
	<-started
	for range 2 { // fill the mailbox behind the running message
		m := message{ctx: context.Background(), fn: func(context.Context) error { return nil }, done: make(chan error, 1)}
		if err := s.enqueue("k", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Ask on a full mailbox = %v, want ErrBusy", err)
	}
	close(gate)
	wg.Wait()
}

func TestContextCancelledBeforeRun(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	gate, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Ask(context.Background(), "k", func(context.Context) error { close(started); <-gate; return nil })
	})
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	ran := atomic.Bool{}
	errc := make(chan error, 1)
	go func() { errc <- s.Ask(ctx, "k", func(context.Context) error { ran.Store(true); return nil }) }()
	for s.Stats().Queued == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(gate)
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v, want context.Canceled", err)
	}
	if ran.Load() {
		t.Fatal("a cancelled message ran")
	}
	wg.Wait()
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestPanicIsolation(t *testing.T) {
	var reported atomic.Value
	s := New[string](Options{OnPanic: func(key, p any) { reported.Store(p) }})
	defer stop(t, s)
	err := s.Ask(context.Background(), "k", func(context.Context) error { panic("boom") })
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("Ask = %v, want ErrPanic", err)
	}
	if reported.Load() != "boom" {
		t.Errorf("OnPanic saw %v", reported.Load())
	}
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("actor did not survive the panic: %v", err)
	}
}

func TestIdleRetireAndRespawn(t *testing.T) {
	clock := &fakeClock{}
	s := New[string](Options{Clock: clock})
	defer stop(t, s)
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	clock.fireAll()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Actors != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle actor never retired")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Actors != 1 {
		t.Fatalf("actors = %d after respawn", s.Stats().Actors)
	}
}

// TestRetireRace fires idle timers continuously while many goroutines send
// to a few keys: every message must run exactly once and nothing may hang.
func TestRetireRace(t *testing.T) {
	clock := &fakeClock{}
	s := New[int](Options{Clock: clock, MailboxSize: 4096})
	var ran atomic.Int64
	stopFiring := make(chan struct{})
	var firing sync.WaitGroup
	firing.Go(func() {
		for {
			select {
			case <-stopFiring:
				return
			default:
				clock.fireAll()
				time.Sleep(10 * time.Microsecond)
			}
		}
	})
	var wg sync.WaitGroup
	const senders, each = 16, 300
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := s.Ask(context.Background(), (g+i)%3, func(context.Context) error { ran.Add(1); return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("deadlock: senders did not finish")
	}
	close(stopFiring)
	firing.Wait()
	stop(t, s)
	if ran.Load() != senders*each {
		t.Fatalf("ran %d messages, want %d", ran.Load(), senders*each)
	}
}

func TestStopDrains(t *testing.T) {
	s := New[string](Options{MailboxSize: 16})
	gate, started := make(chan struct{}), make(chan struct{})
	var ran atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = s.Ask(context.Background(), "k", func(context.Context) error { close(started); <-gate; return nil })
	})
	<-started
	var results []chan error
	for range 5 {
		m := message{ctx: context.Background(), fn: func(context.Context) error { ran.Add(1); return nil }, done: make(chan error, 1)}
		if err := s.enqueue("k", m); err != nil {
			t.Fatal(err)
		}
		results = append(results, m.done)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	for !s.stopped.Load() {
		time.Sleep(time.Millisecond)
	}
	if err := s.Ask(context.Background(), "k", func(context.Context) error { return nil }); !errors.Is(err, ErrStopped) {
		t.Errorf("Ask after Stop = %v", err)
	}
	close(gate)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if ran.Load() != 5 {
		t.Fatalf("Stop drained %d of 5 queued messages", ran.Load())
	}
}

func BenchmarkAsk(b *testing.B) {
	noop := func(context.Context) error { return nil }
	b.Run("same-key", func(b *testing.B) {
		s := New[int](Options{MailboxSize: 1024})
		defer s.Stop(context.Background())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = s.Ask(context.Background(), 0, noop)
			}
		})
	})
	b.Run("many-keys", func(b *testing.B) {
		s := New[int](Options{MailboxSize: 1024})
		defer s.Stop(context.Background())
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			k := int(n.Add(1))
			for pb.Next() {
				_ = s.Ask(context.Background(), k, noop)
			}
		})
	})
}
