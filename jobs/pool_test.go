package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fill occupies every worker of p with a task blocked on release, and
// returns once all of them run.
func fill(t *testing.T, p *Pool, workers int, release <-chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A zero-queue pool refuses tasks until a worker waits for one.
			for {
				err := p.Do(context.Background(), func(context.Context) { <-release })
				if errors.Is(err, ErrBusy) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("Do: %v", err)
				}
				return
			}
		}()
	}
	wait.For(t, "workers busy", func() bool { return p.Stats().Running == workers })
	return &wg
}

func TestPoolDoRunsAndWaits(t *testing.T) {
	p := NewPool(2, 4)
	defer p.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				x := 0
				err := p.Do(context.Background(), func(context.Context) { x = 1; n.Add(1) })
				if errors.Is(err, ErrBusy) {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if err != nil || x != 1 {
					t.Errorf("Do = %v, fn effect %d", err, x)
				}
				return
			}
		}()
	}
	wg.Wait()
	if n.Load() != 100 {
		t.Fatalf("ran %d tasks, want 100", n.Load())
	}
}

func TestPoolBusyWhenWorkersAndQueueFull(t *testing.T) {
	const workers, queue = 2, 1
	p := NewPool(workers, queue)
	defer p.Close()
	release := make(chan struct{})
	wg := fill(t, p, workers, release)
	// One more waits in the queue.
	queuedDone := make(chan error, 1)
	go func() { queuedDone <- p.Do(context.Background(), func(context.Context) {}) }()
	wait.For(t, "a queued task", func() bool { return p.Stats().Queued == queue })

	start := time.Now()
	if err := p.Do(context.Background(), func(context.Context) { t.Error("ran a task refused as busy") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do on a full pool = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ErrBusy took %v: it must not wait", d)
	}
	close(release)
	wg.Wait()
	if err := <-queuedDone; err != nil {
		t.Fatalf("queued task: %v", err)
	}
}

func TestPoolZeroQueueTakesOnlyIdleWorkers(t *testing.T) {
	p := NewPool(1, 0)
	defer p.Close()
	release := make(chan struct{})
	wg := fill(t, p, 1, release)
	if err := p.Do(context.Background(), func(context.Context) {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do with the only worker busy and no queue = %v, want ErrBusy", err)
	}
	close(release)
	wg.Wait()
	// The worker is idle again: accepted (a worker must be receiving, so retry briefly).
	wait.For(t, "idle worker accepts", func() bool { return p.Do(context.Background(), func(context.Context) {}) == nil })
}

func TestPoolCancelBeforeStartNeverRuns(t *testing.T) {
	p := NewPool(1, 4)
	defer p.Close()
	release := make(chan struct{})
	wg := fill(t, p, 1, release)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	errc := make(chan error, 1)
	go func() { errc <- p.Do(ctx, func(context.Context) { ran.Store(true) }) }()
	wait.For(t, "queued", func() bool { return p.Stats().Queued == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do cancelled while queued = %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	// The abandoned task is skipped by the worker, never run.
	if err := p.Do(context.Background(), func(context.Context) {}); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("a task whose caller gave up before it started ran anyway")
	}
	// A context already done is refused without queueing.
	if err := p.Do(ctx, func(context.Context) { t.Error("ran") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a done ctx = %v", err)
	}
}

func TestPoolCancelAfterStartWaitsForTask(t *testing.T) {
	p := NewPool(1, 1)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var finished atomic.Bool
	errc := make(chan error, 1)
	go func() {
		errc <- p.Do(ctx, func(ctx context.Context) {
			close(started)
			<-ctx.Done() // the task sees the cancellation ...
			time.Sleep(20 * time.Millisecond)
			finished.Store(true) // ... and Do returns only after it ends
		})
	}()
	<-started
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Do of a started task = %v, want its result (nil)", err)
	}
	if !finished.Load() {
		t.Fatal("Do returned while its task was still running")
	}
}

func TestPoolPanicIsolated(t *testing.T) {
	p := NewPool(1, 1)
	defer p.Close()
	err := p.Do(context.Background(), func(context.Context) { panic("boom") })
	var pe *PanicError
	if !errors.Is(err, ErrPanic) || !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("Do of a panicking task = %v", err)
	}
	sentinel := errors.New("inner")
	if err := p.Do(context.Background(), func(context.Context) { panic(sentinel) }); !errors.Is(err, sentinel) {
		t.Fatalf("panic with an error value should unwrap to it: %v", err)
	}
	// The single worker survived.
	ok := false
	if err := p.Do(context.Background(), func(context.Context) { ok = true }); err != nil || !ok {
		t.Fatalf("pool after a panic: %v, ran %v", err, ok)
	}
}

func TestPoolClose(t *testing.T) {
	p := NewPool(1, 2)
	release := make(chan struct{})
	var runningDone atomic.Bool
	runErr := make(chan error, 1)
	go func() {
		runErr <- p.Do(context.Background(), func(context.Context) { <-release; runningDone.Store(true) })
	}()
	wait.For(t, "running", func() bool { return p.Stats().Running == 1 })
	queuedErr := make(chan error, 2)
	for range 2 {
		go func() {
			queuedErr <- p.Do(context.Background(), func(context.Context) { t.Error("queued task ran after Close") })
		}()
	}
	wait.For(t, "queued", func() bool { return p.Stats().Queued == 2 })
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-closed
	if !runningDone.Load() {
		t.Fatal("running task did not finish")
	}
	if err := <-runErr; err != nil {
		t.Fatalf("running task: %v", err)
	}
	for range 2 {
		if err := <-queuedErr; !errors.Is(err, ErrClosed) {
			t.Fatalf("queued task at Close = %v, want ErrClosed", err)
		}
	}
	if err := p.Do(context.Background(), func(context.Context) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Do after Close = %v", err)
	}
	p.Close() // idempotent
}

func BenchmarkPoolDo(b *testing.B) {
	p := NewPool(8, 1024)
	defer p.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for p.Do(context.Background(), func(context.Context) {}) == ErrBusy {
			}
		}
	})
}
