package audit

import (
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// collect is a Recorder that keeps what it is given.
type collect struct {
	mu     sync.Mutex
	events []Event
}

func (c *collect) Record(_ context.Context, e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *collect) all() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

func failure(at time.Time, account, addr string) Event {
	return Event{Time: at, Kind: LoginFailed, AccountName: account, Remote: addr, Action: "token", Outcome: "failure", Detail: "wrong password"}
}

// N failures in a minute from one (account, address) are one event with
// count N, written to the journal when the window closes; the chain
// verifies afterwards.
func TestAggregateFailedLogins(t *testing.T) {
	ctx := context.Background()
	s := enginetest.Memory(t)
	j := Open(s, Options{})
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	agg := NewAggregator(j, AggregatorOptions{Window: time.Minute})
	const n = 500
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agg.Record(ctx, failure(base.Add(time.Duration(i)*100*time.Millisecond), "admin", "10.0.0.1"))
		}()
	}
	wg.Wait()
	// Another address, another account, and an event that is not aggregated.
	agg.Record(ctx, failure(base.Add(time.Second), "admin", "10.0.0.2"))
	agg.Record(ctx, failure(base.Add(time.Second), "bob", "10.0.0.1"))
	agg.Record(ctx, Event{Time: base.Add(2 * time.Second), Kind: Push, AccountID: "id", AccountName: "ci", Outcome: "success"})

	agg.Flush(ctx, base.Add(59*time.Second)) // the window is still open
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Written != 1 {
		t.Fatalf("before the window closed: %+v", st)
	}
	j = Open(s, Options{})
	agg.next = j
	agg.Flush(ctx, base.Add(time.Minute))
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := agg.Aggregated(); got != n-1 {
		t.Errorf("aggregated %d, want %d", got, n-1)
	}
	p, err := Query(ctx, s, Filter{Kinds: []Kind{LoginFailed}}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, e := range p.Events {
		counts[e.AccountName+"@"+e.Remote] += e.Count
		if e.AccountName == "admin" && e.Remote == "10.0.0.1" && !e.Time.Equal(base) {
			t.Errorf("aggregate time %v, want the first occurrence %v", e.Time, base)
		}
	}
	want := map[string]uint64{"admin@10.0.0.1": n, "admin@10.0.0.2": 1, "bob@10.0.0.1": 1}
	if len(p.Events) != 3 || fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("events %+v, counts %v, want %v", p.Events, counts, want)
	}
	if rep := verify(t, s); !rep.OK() || rep.Checked != 4 {
		t.Errorf("chain after aggregation: %+v %+v", rep, rep.Broken)
	}
}

// A later window is a new aggregate; anonymous tokens and denials are
// aggregated, an account's are not.
func TestAggregateWindows(t *testing.T) {
	ctx := context.Background()
	c := &collect{}
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	agg := NewAggregator(c, AggregatorOptions{})
	anon := Event{Kind: TokenIssued, Remote: "10.0.0.1", Outcome: "success"}
	for i := range 3 {
		anon.Time = base.Add(time.Duration(i) * 50 * time.Second) // windows 0, 0, 1
		agg.Record(ctx, anon)
	}
	agg.Record(ctx, Event{Time: base, Kind: TokenIssued, AccountID: "x", AccountName: "ci", Outcome: "success"})
	agg.Record(ctx, Event{Time: base, Kind: Denied, Remote: "10.0.0.1", Action: "push", Repository: "a", Outcome: "denied"})
	agg.Record(ctx, Event{Time: base, Kind: Denied, Remote: "10.0.0.1", Action: "push", Repository: "a", Outcome: "denied"})
	agg.Flush(ctx, base.Add(time.Minute))
	got := c.all()
	if len(got) != 3 || got[0].AccountName != "ci" || got[1].Count != 2 || got[2].Count != 2 || got[1].Time != base {
		t.Fatalf("after the first window: %+v", got)
	}
	agg.Close(ctx) // flushes the open second window
	got = c.all()
	if len(got) != 4 || got[3].Kind != TokenIssued || got[3].Count != 1 || !got[3].Time.Equal(base.Add(100*time.Second)) {
		t.Fatalf("after close: %+v", got)
	}
	agg.Record(ctx, anon) // after Close: straight through
	if len(c.all()) != 5 {
		t.Error("an event after Close was held")
	}
}

// Past MaxOpen sources, new ones share one aggregate that names no one:
// memory and events stay bounded whatever the spread of the flood.
func TestAggregateBounded(t *testing.T) {
	ctx := context.Background()
	c := &collect{}
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	agg := NewAggregator(c, AggregatorOptions{MaxOpen: 10})
	for i := range 1000 {
		agg.Record(ctx, failure(base, fmt.Sprintf("user%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	if n := agg.n.Load(); n != 11 {
		t.Errorf("%d aggregates open, want 10 and the overflow", n)
	}
	agg.Flush(ctx, base.Add(time.Minute))
	got := c.all()
	var total uint64
	for _, e := range got {
		total += max(e.Count, 1)
	}
	if len(got) != 11 || total != 1000 {
		t.Fatalf("%d events for %d failures", len(got), total)
	}
	var overflow *Event
	for i := range got {
		if got[i].AccountName == "" {
			overflow = &got[i]
		}
	}
	if overflow == nil || overflow.Count != 990 || overflow.Remote != "" {
		t.Errorf("overflow aggregate %+v", overflow)
	}
}

// Start's loop closes the windows on its own; a fake clock moves time.
func TestAggregatorLoop(t *testing.T) {
	ctx := context.Background()
	s := enginetest.Memory(t)
	j := Open(s, Options{})
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	agg := NewAggregator(j, AggregatorOptions{Tick: time.Millisecond, Now: clock})
	agg.Start()
	for range 5 {
		agg.Record(ctx, Event{Kind: LoginFailed, AccountName: "a", Remote: "r", Outcome: "failure"})
	}
	written := j.Written()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	select {
	case <-written:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not flush the ended window")
	}
	agg.Close(ctx)
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := Query(ctx, s, Filter{}, "", 10)
	if len(p.Events) != 1 || p.Events[0].Count != 5 {
		t.Errorf("events %+v", p.Events)
	}
}

// Records racing with flushes are each counted exactly once, and no
// aggregate is left behind.
func TestAggregateConcurrentFlush(t *testing.T) {
	ctx := context.Background()
	c := &collect{}
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	agg := NewAggregator(c, AggregatorOptions{Window: time.Millisecond})
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Windows of 1 ms: the writers keep opening new ones while
				// the flusher closes them.
				agg.Record(ctx, failure(base.Add(time.Duration(i)*100*time.Microsecond), "a", fmt.Sprint(w%2)))
			}
		}()
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				agg.Flush(ctx, base.Add(time.Duration(each)*100*time.Microsecond))
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	agg.Close(ctx)
	var total uint64
	for _, e := range c.all() {
		total += max(e.Count, 1)
	}
	if total != writers*each || agg.n.Load() != 0 {
		t.Errorf("counted %d of %d; %d aggregates left open", total, writers*each, agg.n.Load())
	}
}
