package main

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestReplicasPostgresFailover: two replicas on a PostgreSQL primary with
// a synchronous streaming standby, clients pushing through both; the
// primary is SIGKILLed and the standby promoted while the pushes run. The
// replicas find the new primary on their own (their DSN names both
// servers, target_session_attrs=read-write); clients see 503s meanwhile,
// never a 500, and /readyz answers 503 at once; every acknowledged push is
// there afterwards.
func TestReplicasPostgresFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills servers")
	}
	primary, err := pgtest.StartPrimary()
	if err != nil {
		if os.Getenv(pgtest.RequiredEnv) == "1" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	ctx := context.Background()
	db, err := primary.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	standby, err := primary.StartStandby(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop() })
	c := startClusterOn(t, 2, pgtest.FailoverDSN(db, primary, standby))
	c.waitLeader(t, nil, 30*time.Second)

	l := newLedger()
	pctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { pushImages(pctx, c, w, l) })
	}
	defer func() { stop(); wg.Wait() }()
	waitAcks(t, l, time.Time{}, 20)

	primary.Kill()
	killed := time.Now()
	// No primary: every replica says so at once, and a load balancer
	// routes around it.
	for _, r := range c.live() {
		began := time.Now()
		res, b := send(t, "GET", "http://"+r.addr+"/readyz", nil)
		if took := time.Since(began); res.StatusCode != http.StatusServiceUnavailable || took > probeTimeout+time.Second {
			t.Errorf("/readyz of %s with no primary: %s in %v: %s", r.addr, res.Status, took, b)
		}
	}
	promote, err := standby.Promote()
	if err != nil {
		t.Fatal(err)
	}
	back := waitAcks(t, l, killed, 10)
	stop()
	wg.Wait()
	l.mu.Lock()
	errs := l.errors
	l.mu.Unlock()
	t.Logf("promote took %v; first push acknowledged %v after the primary died; server errors seen: %v",
		promote.Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond), errs)
	for code, n := range errs {
		if code != 503 {
			t.Errorf("%d answers with status %d during the failover, want only 503", n, code)
		}
	}
	for _, r := range c.live() {
		verifyLedger(t, r, l)
	}
	c.waitLeader(t, nil, takeoverBound)
}

// waitAcks waits, bounded, until n pushes were acknowledged after t, and
// returns when the first of them was.
func waitAcks(t *testing.T, l *ledger, after time.Time, n int) time.Time {
	t.Helper()
	var first time.Time
	wait.Within(t, 2*time.Minute, "acknowledged pushes", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		got := 0
		for _, a := range l.acked {
			if a.After(after) {
				if got == 0 {
					first = a
				}
				got++
			}
		}
		return got >= n
	})
	return first
}
