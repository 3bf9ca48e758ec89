package actors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// within bounds a wait that only a bug makes long, so a broken actor fails
// the test with every goroutine's stack instead of hanging the run.
const within = 20 * time.Second

func await[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(within):
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func stop[K comparable](t *testing.T, s *System[K]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func noop(context.Context) error { return nil }

// result waits for a message sent with send, failing instead of hanging.
func result(t *testing.T, m *message) error {
	t.Helper()
	c := make(chan error, 1)
	go func() { c <- m.wait() }()
	return await(t, c, "a queued message's result")
}

// hold occupies key's actor until the returned release is called, so that
// later messages for key queue up deterministically.
// sendCancelled queues a message for key's actor and then cancels its
// ctx; ran reports whether its fn ran. Read ran only after the actor has
// taken the message (a later Ask on key returned: mailboxes are FIFO).
func sendCancelled(t *testing.T, s *System[string], key string) (m *message, ran *bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran = new(bool)
	m, err := s.send(ctx, key, func(context.Context) error { *ran = true; return nil })
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	return m, ran
}

func hold[K comparable](t *testing.T, s *System[K], key K) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	m, err := s.send(context.Background(), key, func(context.Context) error {
		close(started)
		<-gate
		return nil
	})
	if err != nil {
		t.Fatalf("hold %v: %v", key, err)
	}
	await(t, started, "the holding message to start")
	return func() {
		close(gate)
		if err := result(t, m); err != nil {
			t.Errorf("holding message: %v", err)
		}
	}
}

func TestSerialPerKey(t *testing.T) {
	const senders, each = 100, 50
	s := New[string](Options{MailboxSize: senders})
	defer stop(t, s)
	// counter has no synchronization of its own: the race detector and
	// the final count are what prove that the actor ran fn one at a time.
	counter := 0
	var inside atomic.Int32
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range each {
				err := s.Ask(context.Background(), "k", func(context.Context) error {
					if inside.Add(1) != 1 {
						t.Error("two messages for one key ran at once")
					}
					counter++
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if counter != senders*each {
		t.Fatalf("counter = %d, want %d", counter, senders*each)
	}
}

func TestFIFOForOneSender(t *testing.T) {
	const n = 100
	s := New[int](Options{MailboxSize: n})
	defer stop(t, s)
	release := hold(t, s, 1)
	var order []int
	var queued []*message
	for i := range n {
		m, err := s.send(context.Background(), 1, func(context.Context) error {
			order = append(order, i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, m)
	}
	release()
	for _, m := range queued {
		if err := result(t, m); err != nil {
			t.Fatal(err)
		}
	}
	if len(order) != n {
		t.Fatalf("%d of %d messages ran", len(order), n)
	}
	for pos, i := range order {
		if pos != i {
			t.Fatalf("message %d ran at position %d: %v", i, pos, order)
		}
	}
}

func TestKeysRunConcurrently(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	bRan := make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		// A can only finish if B runs while A is still running.
		aDone <- s.Ask(context.Background(), "a", func(context.Context) error {
			select {
			case <-bRan:
				return nil
			case <-time.After(within):
				return errors.New("key b never ran while key a was busy")
			}
		})
	}()
	if err := s.Ask(context.Background(), "b", func(context.Context) error { close(bRan); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := await(t, aDone, "key a"); err != nil {
		t.Fatal(err)
	}
}

func TestBusyWhenMailboxFull(t *testing.T) {
	s := New[string](Options{MailboxSize: 2})
	defer stop(t, s)
	release := hold(t, s, "k")
	var queued []*message
	for range 2 {
		m, err := s.send(context.Background(), "k", noop)
		if err != nil {
			t.Fatalf("filling the mailbox: %v", err)
		}
		queued = append(queued, m)
	}
	if st := s.Stats(); st.Actors != 1 || st.Queued != 2 {
		t.Errorf("Stats = %+v, want 1 actor and 2 queued", st)
	}
	var ran atomic.Bool
	busy := make(chan error, 1)
	go func() { // a mailbox that blocks instead of refusing would hang here
		busy <- s.Ask(context.Background(), "k", func(context.Context) error { ran.Store(true); return nil })
	}()
	if err := await(t, busy, "Ask on a full mailbox"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Ask on a full mailbox = %v, want ErrBusy", err)
	}
	if err := s.Ask(context.Background(), "other", noop); err != nil {
		t.Fatalf("a full mailbox blocked another key: %v", err)
	}
	release()
	for _, m := range queued {
		if err := result(t, m); err != nil {
			t.Fatal(err)
		}
	}
	if ran.Load() {
		t.Fatal("a message refused with ErrBusy ran")
	}
}

func TestContextDoneBeforeAsk(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := s.Ask(ctx, "k", func(context.Context) error { ran = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v, want context.Canceled", err)
	}
	if ran {
		t.Fatal("fn ran with a cancelled context")
	}
	if n := s.Stats().Actors; n != 0 {
		t.Fatalf("a cancelled Ask spawned %d actors", n)
	}
}

// A caller whose ctx ends while its message is queued gets ctx's error
// without waiting for the messages ahead, and fn never runs.
func TestContextDoneWhileQueued(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	release := hold(t, s, "k")
	m, ran := sendCancelled(t, s, "k")
	res := make(chan error, 1)
	go func() { res <- m.wait() }()
	if err := await(t, res, "Ask to give up while the actor is busy"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v, want context.Canceled", err)
	}
	release()
	// FIFO: once this runs, the abandoned message has been taken and skipped.
	if err := s.Ask(context.Background(), "k", noop); err != nil {
		t.Fatal(err)
	}
	if *ran {
		t.Fatal("fn ran after its caller had given up")
	}
}

// The actor reaches a message whose ctx has ended before its caller has
// noticed: fn still must not run.
func TestContextDoneBeforeActorTakesIt(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	release := hold(t, s, "k")
	m, ran := sendCancelled(t, s, "k")
	release()
	if err := s.Ask(context.Background(), "k", noop); err != nil { // FIFO: m has been taken
		t.Fatal(err)
	}
	if err := result(t, m); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v, want context.Canceled", err)
	}
	if *ran {
		t.Fatal("fn ran with a cancelled context")
	}
}

// Once fn has started, Ask waits for it even though ctx ended, and returns
// fn's own result.
func TestContextDoneWhileRunning(t *testing.T) {
	// The bubble makes "Ask has not returned yet" a fact, not a guess:
	// synctest.Wait returns only once every goroutine is blocked.
	synctest.Test(t, func(t *testing.T) {
		s := New[string](Options{})
		errFn := errors.New("fn's own result")
		started, gate := make(chan struct{}), make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() {
			res <- s.Ask(ctx, "k", func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				<-gate
				return errFn
			})
		}()
		<-started
		cancel()
		synctest.Wait()
		var early error
		returned := false
		select {
		case early = <-res:
			returned = true
		default:
		}
		close(gate) // before any verdict, so the bubble can wind down
		if returned {
			t.Errorf("Ask returned %v while fn was still running", early)
		} else if err := <-res; !errors.Is(err, errFn) {
			t.Errorf("Ask = %v, want fn's result", err)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPanicIsolation(t *testing.T) {
	type report struct{ key, value any }
	reports := make(chan report, 1)
	s := New[string](Options{OnPanic: func(key, p any) { reports <- report{key, p} }})
	defer stop(t, s)
	err := s.Ask(context.Background(), "k", func(context.Context) error { panic("boom") })
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("Ask = %v, want ErrPanic", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "boom") || !strings.Contains(msg, "TestPanicIsolation") {
		t.Errorf("error lacks the panic value or the stack: %q", msg)
	}
	if r := await(t, reports, "OnPanic"); r.key != "k" || r.value != "boom" {
		t.Errorf("OnPanic(%v, %v), want (k, boom)", r.key, r.value)
	}
	if err := s.Ask(context.Background(), "k", noop); err != nil {
		t.Fatalf("actor did not survive the panic: %v", err)
	}
}

func TestPanicInOnPanic(t *testing.T) {
	s := New[string](Options{OnPanic: func(any, any) { panic("hook") }})
	defer stop(t, s)
	if err := s.Ask(context.Background(), "k", func(context.Context) error { panic("boom") }); !errors.Is(err, ErrPanic) {
		t.Fatalf("Ask = %v, want ErrPanic", err)
	}
	if err := s.Ask(context.Background(), "k", noop); err != nil {
		t.Fatalf("actor did not survive a panicking hook: %v", err)
	}
}

// runtime.Goexit cannot be recovered; the caller must still be answered
// and the messages queued behind it must still run.
func TestGoexit(t *testing.T) {
	s := New[string](Options{})
	defer stop(t, s)
	release := hold(t, s, "k")
	exiting, err := s.send(context.Background(), "k", func(context.Context) error { runtime.Goexit(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.send(context.Background(), "k", noop)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if err := result(t, exiting); !errors.Is(err, ErrPanic) {
		t.Fatalf("Ask = %v, want ErrPanic", err)
	}
	if err := result(t, after); err != nil {
		t.Fatalf("message queued behind Goexit: %v", err)
	}
}

func TestIdleStopAndRespawn(t *testing.T) {
	clock := newFakeClock()
	s := New[string](Options{Clock: clock})
	defer stop(t, s)
	if err := s.Ask(context.Background(), "k", noop); err != nil {
		t.Fatal(err)
	}
	timer := await(t, clock.newc, "the actor's idle timer")
	if n := s.Stats().Actors; n != 1 {
		t.Fatalf("actors = %d, want 1", n)
	}
	clock.fire()
	// The actor stops its timer only on its way out, after leaving the map.
	await(t, timer.stopped, "the idle actor to exit")
	if n := s.Stats().Actors; n != 0 {
		t.Fatalf("actors = %d after idle stop, want 0", n)
	}
	if err := s.Ask(context.Background(), "k", noop); err != nil {
		t.Fatal(err)
	}
	await(t, clock.newc, "a respawned actor")
	if n := s.Stats().Actors; n != 1 {
		t.Fatalf("actors = %d after respawn, want 1", n)
	}
}

// The retirement check itself: an actor with a queued message must refuse
// to retire, or that message would sit in a mailbox nobody reads.
func TestRetireRefusedWhileQueued(t *testing.T) {
	s := New[string](Options{Clock: newFakeClock()})
	defer stop(t, s)
	release := hold(t, s, "k")
	m, err := s.send(context.Background(), "k", noop)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.actors.Load("k")
	if s.retire("k", v.(*actor)) {
		t.Fatal("an actor with a queued message retired")
	}
	release()
	if err := result(t, m); err != nil {
		t.Fatal(err)
	}
}

// TestRetireRace fires idle timers without pause while many senders Ask a
// few keys: every message must run exactly once, one at a time per key,
// and nothing may hang.
func TestRetireRace(t *testing.T) {
	const keys, senders, each = 4, 16, 500
	clock := newFakeClock()
	s := New[int](Options{Clock: clock})

	stopFiring := make(chan struct{})
	var firing sync.WaitGroup
	firing.Go(func() {
		for {
			select {
			case <-stopFiring:
				return
			default:
				clock.fire()
				runtime.Gosched()
			}
		}
	})

	// Plain ints: the race detector checks that a respawned actor's
	// messages happen after its predecessor's, not only alongside them.
	var counts [keys]int
	var inside [keys]atomic.Int32
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				k := (g + i) % keys
				err := s.Ask(context.Background(), k, func(context.Context) error {
					if inside[k].Add(1) != 1 {
						t.Errorf("key %d: two messages ran at once", k)
					}
					counts[k]++
					inside[k].Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	await(t, done, "senders (deadlock?)")
	close(stopFiring)
	firing.Wait()
	stop(t, s)

	total := 0
	for _, c := range counts {
		total += c
	}
	if total != senders*each {
		t.Fatalf("ran %d messages, want %d", total, senders*each)
	}
	// Without respawns the test proved nothing about retirement.
	if made := clock.timersMade(); made <= keys {
		t.Fatalf("only %d actors were ever spawned for %d keys: no retirement raced", made, keys)
	} else {
		t.Logf("%d actor spawns for %d keys", made, keys)
	}
}

func TestStopDrainsThenRefuses(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := New[string](Options{MailboxSize: 16})
	if err := s.Ask(context.Background(), "idle", noop); err != nil {
		t.Fatal(err)
	}
	release := hold(t, s, "k")
	var order []int
	var queued []*message
	for i := range 5 {
		m, err := s.send(context.Background(), "k", func(context.Context) error {
			order = append(order, i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, m)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	await(t, s.stopping, "Stop to begin")
	for _, key := range []string{"k", "idle", "new"} {
		if err := s.Ask(context.Background(), key, noop); !errors.Is(err, ErrStopped) {
			t.Errorf("Ask(%s) after Stop = %v, want ErrStopped", key, err)
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v before the queue drained", err)
	default:
	}
	release()
	if err := await(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	for _, m := range queued {
		if err := result(t, m); err != nil {
			t.Errorf("queued message: %v", err)
		}
	}
	if fmt.Sprint(order) != "[0 1 2 3 4]" {
		t.Fatalf("Stop drained %v, want [0 1 2 3 4]", order)
	}
	if st := s.Stats(); st.Actors != 0 || st.Queued != 0 {
		t.Fatalf("Stats after Stop = %+v", st)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStopHonoursContext(t *testing.T) {
	s := New[string](Options{})
	release := hold(t, s, "k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a busy actor and a cancelled ctx = %v", err)
	}
	release()
	stop(t, s) // a second Stop waits for the rest
}

func BenchmarkAsk(b *testing.B) {
	b.Run("same-key", func(b *testing.B) {
		s := New[int](Options{MailboxSize: 1024})
		defer s.Stop(context.Background())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Ask(context.Background(), 0, noop); err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("many-keys", func(b *testing.B) {
		s := New[int](Options{MailboxSize: 1024})
		defer s.Stop(context.Background())
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			// Spread each goroutine over its own 64 keys, so lookups hit a
			// populated map and keys never wait on each other.
			base := int(next.Add(1)) * 64
			i := 0
			for pb.Next() {
				if err := s.Ask(context.Background(), base+i%64, noop); err != nil {
					b.Error(err)
				}
				i++
			}
		})
	})
}
