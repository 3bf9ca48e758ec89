package actors

import (
	"sync"
	"time"
)

// fakeClock hands out timers that expire only when the test calls fire.
// Durations are ignored: the tests are about what happens when an idle
// timer expires, not about how long it takes.
type fakeClock struct {
	mu     sync.Mutex
	timers map[*fakeTimer]struct{} // timers not yet stopped
	made   int
	newc   chan *fakeTimer // every new timer, if the test wants it; never blocks
}

func newFakeClock() *fakeClock {
	return &fakeClock{timers: map[*fakeTimer]struct{}{}, newc: make(chan *fakeTimer, 16)}
}

type fakeTimer struct {
	clock   *fakeClock
	c       chan time.Time
	stopped chan struct{} // closed by Stop: the owning actor is exiting
	once    sync.Once
}

func (f *fakeClock) NewTimer(time.Duration) Timer {
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1), stopped: make(chan struct{})}
	f.mu.Lock()
	f.timers[t] = struct{}{}
	f.made++
	f.mu.Unlock()
	select {
	case f.newc <- t:
	default:
	}
	return t
}

// fire expires every live timer once. A timer whose previous expiry has
// not been received yet keeps that one, like a real timer's channel.
func (f *fakeClock) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t := range f.timers {
		select {
		case t.c <- time.Time{}:
		default:
		}
	}
}

func (f *fakeClock) timersMade() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.made
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.once.Do(func() {
		t.clock.mu.Lock()
		delete(t.clock.timers, t)
		t.clock.mu.Unlock()
		close(t.stopped)
	})
	return true
}

// Reset keeps a pending expiry, unlike a real timer: a stale tick makes the
// actor try to retire at an arbitrary moment, which is exactly the race the
// hammer test wants more of.
func (t *fakeTimer) Reset(time.Duration) bool { return true }
