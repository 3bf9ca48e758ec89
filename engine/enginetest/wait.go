package enginetest

import (
	"testing"
	"time"
)

// WaitTimeout bounds Eventually: long enough for a loaded two-core CI
// machine, short enough that a broken test fails instead of hanging.
const WaitTimeout = 20 * time.Second

// pollEvery is how often Eventually looks again. It is a polling period,
// not a guess at how long something takes: the condition decides.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond until it holds, failing the test (naming what)
// when it still does not after WaitTimeout. It is the one way tests wait
// for something observable that offers no channel or hook to wait on.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", WaitTimeout, what)
		}
		<-tick.C
	}
}
