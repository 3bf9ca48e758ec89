package kv_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// frozen is a store whose Updates fail while frozen is set: the lease of
// a replica that can no longer renew (paused, cut off) while its fenced
// transactions still reach the database.
type frozen struct {
	kv.Store
	on atomic.Bool
}

func (f *frozen) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if f.on.Load() {
		return kv.ErrUnavailable
	}
	return f.Store.Update(ctx, fn)
}

// waitLeading polls, bounded, until l leads.
func waitLeading(t *testing.T, l *kv.Lease, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	wait.Within(t, within, "the lease", func() bool { ok, _ := l.Leading(); return ok })
	return time.Since(began)
}

func openPG(t *testing.T, dsn string) *kv.Postgres {
	t.Helper()
	s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestLeaseTakeoverAndFence: two replicas on one PostgreSQL database; one
// leads; when it stops renewing, the other takes over within TTL + TTL/3;
// a fenced transaction of the old leader that was in flight at the
// takeover finishes before the takeover commits, and every one it starts
// afterwards fails with ErrFenced and writes nothing.
func TestLeaseTakeoverAndFence(t *testing.T) {
	dsn := pgtest.Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ttl = 600 * time.Millisecond
	rawA, rawB := openPG(t, dsn), openPG(t, dsn)
	ctlA := &frozen{Store: rawA}
	a := kv.NewLease(ctlA, kv.LeaseOptions{Name: "a", TTL: ttl})
	b := kv.NewLease(rawB, kv.LeaseOptions{Name: "b", TTL: ttl})
	go a.Run(ctx)
	waitLeading(t, a, 10*time.Second)
	go b.Run(ctx)
	fa := kv.Fenced(rawA, a)
	if err := fa.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("x/1"), []byte("a")) }); err != nil {
		t.Fatalf("the leader's fenced write: %v", err)
	}
	if ok, _ := b.Leading(); ok {
		t.Fatal("two leaders")
	}

	// A fenced transaction of a is in flight (it read the lease) when a
	// stops renewing.
	inside, finish := make(chan struct{}), make(chan struct{})
	inflight := make(chan error, 1)
	go func() {
		inflight <- fa.Update(ctx, func(tx kv.Txn) error {
			select {
			case <-inside:
			default:
				close(inside)
			}
			<-finish
			return tx.Set([]byte("x/2"), []byte("a"))
		})
	}()
	<-inside
	ctlA.on.Store(true)
	stopped := time.Now()
	// b cannot take over while a's transaction holds the lease row: its
	// takeover waits until a's transaction ends, two TTLs later.
	var released atomic.Int64
	time.AfterFunc(ttl*2, func() { released.Store(time.Now().UnixNano()); close(finish) })
	waitLeading(t, b, 10*time.Second)
	if r := released.Load(); r == 0 || time.Now().UnixNano() < r {
		t.Fatal("b took over while a's fenced transaction was in flight")
	}
	if err := <-inflight; err != nil {
		t.Fatalf("the transaction in flight at the takeover: %v", err)
	}
	t.Logf("takeover %v after the leader stopped renewing (TTL %v, in-flight transaction held %v)",
		time.Since(stopped).Round(time.Millisecond), ttl, 2*ttl)
	err := fa.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("x/3"), []byte("a")) })
	if !errors.Is(err, kv.ErrFenced) {
		t.Fatalf("the old leader's write after the takeover: %v, want ErrFenced", err)
	}
	if err := kv.Fenced(rawB, b).Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("x/4"), []byte("b")) }); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	_ = rawB.View(ctx, func(r kv.Reader) error {
		for k, want := range map[string]bool{"x/1": true, "x/2": true, "x/3": false, "x/4": true} {
			if has, _ := r.Has([]byte(k)); has != want {
				t.Errorf("%s present %v, want %v", k, has, want)
			}
		}
		return nil
	})
	rec, err := b.Current(ctx)
	if err != nil || rec.Name != "b" || rec.Term != a.Term()+1 || rec.Holder != b.ID() {
		t.Fatalf("lease record %+v %v (a's term %d)", rec, err, a.Term())
	}
}

// TestLeaseRelease: a leader that stops gives the lease up, and the next
// challenger takes it at its next try, well before the TTL.
func TestLeaseRelease(t *testing.T) {
	dsn := pgtest.Database(t)
	const ttl = 3 * time.Second
	a := kv.NewLease(openPG(t, dsn), kv.LeaseOptions{Name: "a", TTL: ttl})
	b := kv.NewLease(openPG(t, dsn), kv.LeaseOptions{Name: "b", TTL: ttl})
	ctxA, stopA := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctxA); close(done) }()
	waitLeading(t, a, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)
	stopA()
	<-done
	if took := waitLeading(t, b, 10*time.Second); took >= ttl {
		t.Fatalf("takeover after a release took %v, the whole TTL", took)
	}
}

// TestLeaseSingleProcess: on Badger, which one process opens at a time, a
// lease left unexpired by a previous process is taken at once.
func TestLeaseSingleProcess(t *testing.T) {
	dir := t.TempDir()
	s, err := kv.Open(kv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctl := &frozen{Store: s}
	old := kv.NewLease(ctl, kv.LeaseOptions{TTL: time.Hour})
	done := make(chan struct{})
	go func() { old.Run(ctx); close(done) }()
	waitLeading(t, old, 10*time.Second)
	ctl.on.Store(true) // the process dies: no release
	cancel()
	<-done
	_ = s.Close()

	s, err = kv.Open(kv.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	l := kv.NewLease(s, kv.LeaseOptions{TTL: time.Hour})
	go l.Run(ctx)
	waitLeading(t, l, 10*time.Second)
	if err := kv.Fenced(s, l).Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), nil) }); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresIdleTxnTimeout: a read-write transaction left idle past
// PostgresOptions.IdleTxnTimeout is ended by the server (a paused replica
// releases its locks), while a read-only one, which holds none, may idle
// as long as it likes (a collection works between the reads of its mark
// snapshot).
func TestPostgresIdleTxnTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: pgtest.Database(t), IdleTxnTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// The pauses below are the scenario: a client idle inside a transaction.
	err = s.View(ctx, func(r kv.Reader) error {
		if _, err := r.Has([]byte("k")); err != nil {
			return err
		}
		time.Sleep(3 * idle)
		_, err := r.Has([]byte("k"))
		return err
	})
	if err != nil {
		t.Fatalf("a read-only transaction idle past the timeout: %v", err)
	}
	err = s.Update(ctx, func(tx kv.Txn) error {
		if _, err := tx.Has([]byte("k")); err != nil {
			return err
		}
		time.Sleep(3 * idle)
		return tx.Set([]byte("k"), []byte("v"))
	})
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("a read-write transaction idle past the timeout: %v, want it ended (ErrUnavailable)", err)
	}
	if err := s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("the pool recovers: %v", err)
	}
}
