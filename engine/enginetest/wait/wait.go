package wait

import (
	"testing"
	"time"
)

// Timeout bounds For: long enough for a loaded two-core CI
// machine, short enough that a broken test fails instead of hanging.
const Timeout = 20 * time.Second

// pollEvery is how often For looks again. It is a polling period,
// not a guess at how long something takes: the condition decides.
const pollEvery = 5 * time.Millisecond

// For polls cond until it holds, failing the test (naming what) when it
// still does not after Timeout.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Timeout, what, cond)
}

// Within is For with its own deadline d, for a condition that takes a
// known long time to come (a server under a crash loop, say).
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}
