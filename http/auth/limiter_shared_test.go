package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestLimiterSharedAcrossReplicas: two replicas' limiters, each over its
// own connection pool to one PostgreSQL database, take a guesser's
// failures in turn. Shared, the pair's burst holds across both (plus the
// one failure a replica may take before it learns the shared level);
// per process, each replica would allow the whole burst.
func TestLimiterSharedAcrossReplicas(t *testing.T) {
	dsn := pgtest.Database(t)
	open := func() kv.Store {
		s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: dsn, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	storeA, storeB := open(), open()
	lim := Limits{PairBurst: 4, AddrBurst: 1000, Window: time.Minute}
	now := time.Unix(1_000_000, 0)
	ctx := context.Background()

	// guess fails against the replicas in turn until both refuse, and
	// returns how many failures they let through.
	guess := func(replicas [2]*Limiter, account string) int {
		allowed := 0
		for i := 0; i < 100; i++ {
			l := replicas[i%2]
			_, ba := replicas[0].Blocked(account, "10.0.0.1", now)
			_, bb := replicas[1].Blocked(account, "10.0.0.1", now)
			if ba && bb {
				return allowed
			}
			if _, blocked := l.Blocked(account, "10.0.0.1", now); blocked {
				continue
			}
			l.Fail(ctx, account, "10.0.0.1", now)
			allowed++
		}
		t.Fatalf("%s: the replicas never both refused", account)
		return 0
	}
	local := guess([2]*Limiter{NewLimiter(lim, nil), NewLimiter(lim, nil)}, "alice")
	if local != 2*lim.PairBurst {
		t.Fatalf("per process: %d failures let through, want %d (the burst on each)", local, 2*lim.PairBurst)
	}
	a := NewLimiter(lim, identity.NewFailures(storeA))
	b := NewLimiter(lim, identity.NewFailures(storeB))
	shared := guess([2]*Limiter{a, b}, "alice")
	if shared > lim.PairBurst+1 {
		t.Fatalf("shared: %d failures let through across two replicas, want at most %d", shared, lim.PairBurst+1)
	}
	t.Logf("failures let through with a burst of %d: %d per process, %d shared", lim.PairBurst, local, shared)

	// The owner logs in on a replica that saw the pair's failures: the
	// shared bucket goes, so the next failure on the other replica starts
	// from one.
	a.Succeed(ctx, "alice", "10.0.0.1")
	if n := records(t, storeA, "p:alice"); n != 0 {
		t.Fatalf("%d shared pair buckets after the login, want 0", n)
	}

	// Drained buckets are swept as failures go on: every sweepEvery-th
	// failure of a process deletes the drained ones of a page.
	later := now.Add(10 * lim.Window)
	for i := range 2 * sweepEveryForTest {
		a.Fail(ctx, fmt.Sprintf("u%d", i), "10.0.0.2", later)
	}
	if n := records(t, storeA, "r:10.0.0.1"); n != 0 {
		t.Fatalf("the drained address bucket of 10.0.0.1 is still stored (%d)", n)
	}
	if n := records(t, storeA, "r:10.0.0.2"); n != 1 {
		t.Fatalf("the live address bucket of 10.0.0.2: %d records, want 1", n)
	}
}

// sweepEveryForTest is identity's sweep cadence (sweepEvery), which the
// test must exceed to see a sweep.
const sweepEveryForTest = 8

// records counts the shared buckets whose name starts with prefix.
func records(t *testing.T, s kv.Store, prefix string) int {
	t.Helper()
	n := 0
	err := s.View(context.Background(), func(r kv.Reader) error {
		return r.ScanKeys(kv.FailureKey(prefix), nil, func([]byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
