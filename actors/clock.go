package actors

import "time"

// Clock makes the idle timers. It exists so tests can fire idle stops on
// demand instead of sleeping.
type Clock interface {
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer an actor uses. An actor calls Reset
// after every message, receives from C to retire, and calls Stop once when
// its goroutine exits.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

type realClock struct{}

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// realTimer relies on Go ≥1.23 timer semantics: Reset and Stop discard a
// pending expiry, so an actor never retires on a stale tick.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
