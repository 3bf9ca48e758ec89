package audit

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestChainAcrossReplicas runs three journals on three stores of one
// PostgreSQL database, as three replicas, each recording events from
// several goroutines in small batches so that their appends collide:
// afterwards there is one chain holding every event, and it verifies. A
// follower on one replica is woken by a batch another one commits.
func TestChainAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	const replicas, goroutines, each = 3, 4, 60
	stores := make([]kv.Store, replicas)
	journals := make([]*Journal, replicas)
	viewed := make(chan struct{}, 1)
	for i := range journals {
		s := enginetest.Postgres(t, dsn, 4)
		stores[i] = s
		if i == 0 {
			stores[i] = viewSignal{s, viewed}
		}
		journals[i] = Open(stores[i], Options{Batch: 4, OnError: func(err error, n int) { t.Errorf("%d events lost: %v", n, err) }})
	}

	// A follower on replica 0, before anything is written.
	followed := make(chan Page, 1)
	go func() {
		p, err := journals[0].Follow(ctx, Filter{}, "", 1, MaxWait)
		if err != nil {
			t.Error(err)
		}
		followed <- p
	}()
	// The follower's first query must be done before replica 1 writes,
	// or it would find the event without being woken.
	<-viewed
	start := time.Now()
	journals[1].Record(ctx, Event{Kind: Push, AccountName: "first", Outcome: "success"})
	select {
	case p := <-followed:
		if len(p.Events) != 1 || p.Events[0].AccountName != "first" {
			t.Fatalf("follower on another replica got %+v", p.Events)
		}
		t.Logf("follower woken by another replica's batch after %s", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("a follower on replica 0 was not woken by replica 1's batch")
	}

	var wg sync.WaitGroup
	for _, j := range journals {
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					j.Record(ctx, event(g*each+i))
				}
			})
		}
	}
	wg.Wait()
	var written uint64
	for _, j := range journals {
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		st := j.Stats()
		if st.Dropped != 0 || st.Failed != 0 {
			t.Fatalf("stats %+v", st)
		}
		written += st.Written
	}
	rep := verify(t, stores[2])
	want := uint64(1 + replicas*goroutines*each)
	if !rep.OK() || written != want || rep.Checked != want || rep.First != 1 || rep.Last != want {
		t.Fatalf("after concurrent appends through %d replicas: %d written, report %+v; want one chain of %d", replicas, written, rep, want)
	}
}

// viewSignal is a store that signals after each View: when a follower's
// query has run.
type viewSignal struct {
	*kv.Postgres
	viewed chan struct{}
}

func (s viewSignal) View(ctx context.Context, fn func(kv.Reader) error) error {
	err := s.Postgres.View(ctx, fn)
	select {
	case s.viewed <- struct{}{}:
	default:
	}
	return err
}
