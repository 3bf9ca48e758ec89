package audit

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// fill writes n events through a Journal and closes it.
func fill(t *testing.T, s kv.Store, base time.Time, n int, mk func(i int) Event) {
	t.Helper()
	j := Open(s, Options{Queue: n + 1})
	for i := range n {
		e := mk(i)
		if e.Time.IsZero() {
			e.Time = base.Add(time.Duration(i) * time.Second)
		}
		j.Record(context.Background(), e)
	}
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Written != uint64(n) || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func event(i int) Event {
	return Event{Kind: Push, AccountName: "ci", Repository: "app", Digest: fmt.Sprintf("sha256:%064x", i), Outcome: "success"}
}

// keyOf returns the key of event seq.
func keyOf(t *testing.T, s kv.Store, seq uint64) []byte {
	t.Helper()
	var key []byte
	_ = s.View(context.Background(), func(r kv.Reader) error {
		return r.ScanKeys(kv.AuditPrefix(), nil, func(k []byte) error {
			if _, sq, _ := kv.ParseAuditKey(k); sq == seq {
				key = append([]byte(nil), k...)
				return kv.ErrStop
			}
			return nil
		})
	})
	if key == nil {
		t.Fatalf("no event %d", seq)
	}
	return key
}

func verify(t *testing.T, s kv.Store) Report {
	t.Helper()
	rep, err := Verify(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestChain(t *testing.T) {
	ctx := context.Background()
	base := time.Unix(1_700_000_000, 0)
	fresh := func(t *testing.T) *kv.Badger {
		s := enginetest.Memory(t)
		fill(t, s, base, 10, event)
		if rep := verify(t, s); !rep.OK() || rep.Checked != 10 || rep.Last != 10 || rep.Head == "" {
			t.Fatalf("intact chain: %+v %+v", rep, rep.Broken)
		}
		return s
	}
	set := func(t *testing.T, s kv.Store, k, v []byte) {
		if err := s.Update(ctx, func(t kv.Txn) error { return t.Set(k, v) }); err != nil {
			t.Fatal(err)
		}
	}
	del := func(t *testing.T, s kv.Store, k []byte) {
		if err := s.Update(ctx, func(t kv.Txn) error { return t.Delete(k) }); err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, s kv.Store, k []byte) (v []byte) {
		_ = s.View(ctx, func(r kv.Reader) (err error) { v, err = r.Get(k); return })
		return v
	}
	tamper := func(v []byte) []byte {
		return []byte(strings.Replace(string(v), `"account":"ci"`, `"account":"xx"`, 1))
	}

	cases := []struct {
		name string
		edit func(t *testing.T, s kv.Store)
		seq  uint64
		want string
	}{
		{"altered middle", func(t *testing.T, s kv.Store) { k := keyOf(t, s, 4); set(t, s, k, tamper(get(t, s, k))) }, 4, "altered"},
		{"altered first", func(t *testing.T, s kv.Store) { k := keyOf(t, s, 1); set(t, s, k, tamper(get(t, s, k))) }, 1, "altered"},
		{"altered last", func(t *testing.T, s kv.Store) { k := keyOf(t, s, 10); set(t, s, k, tamper(get(t, s, k))) }, 10, "altered"},
		{"garbage", func(t *testing.T, s kv.Store) { set(t, s, keyOf(t, s, 6), []byte("{")) }, 6, "decode"},
		{"deleted middle", func(t *testing.T, s kv.Store) { del(t, s, keyOf(t, s, 5)) }, 5, "missing"},
		{"deleted first", func(t *testing.T, s kv.Store) { del(t, s, keyOf(t, s, 1)) }, 1, "missing"},
		{"deleted last", func(t *testing.T, s kv.Store) { del(t, s, keyOf(t, s, 10)) }, 10, "missing"},
		{"moved", func(t *testing.T, s kv.Store) {
			k3, k7 := keyOf(t, s, 3), keyOf(t, s, 7)
			v3 := get(t, s, k3)
			set(t, s, k7, v3)
		}, 7, "key of event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fresh(t)
			c.edit(t, s)
			rep := verify(t, s)
			if rep.OK() || rep.Broken.Seq != c.seq || !strings.Contains(rep.Broken.Reason, c.want) {
				t.Errorf("report %+v broken %+v, want seq %d %q", rep, rep.Broken, c.seq, c.want)
			}
		})
	}

	t.Run("appends continue the chain", func(t *testing.T) {
		s := fresh(t)
		fill(t, s, base.Add(-time.Hour), 3, event) // clock went back: keys stay ordered
		rep := verify(t, s)
		if !rep.OK() || rep.Checked != 13 {
			t.Errorf("%+v %+v", rep, rep.Broken)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if rep := verify(t, enginetest.Memory(t)); !rep.OK() || rep.Checked != 0 {
			t.Errorf("%+v", rep)
		}
	})
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	s := enginetest.Memory(t)
	base := time.Unix(1_700_000_000, 0)
	kinds := []Kind{Push, Delete, Denied, Login}
	fill(t, s, base, 40, func(i int) Event {
		return Event{Kind: kinds[i%4], AccountID: fmt.Sprintf("u%d", i%2), AccountName: fmt.Sprintf("user%d", i%2),
			Repository: fmt.Sprintf("repo%d", i%3), Digest: fmt.Sprintf("sha256:%064x", i%5), Outcome: []string{"success", "denied"}[i%2]}
	})
	seqs := func(p Page) []uint64 {
		var out []uint64
		for _, e := range p.Events {
			out = append(out, e.Seq)
		}
		return out
	}
	cases := []struct {
		name string
		f    Filter
		want int
		ok   func(Entry) bool
	}{
		{"all", Filter{}, 40, func(Entry) bool { return true }},
		{"kind", Filter{Kinds: []Kind{Delete, Login}}, 20, func(e Entry) bool { return e.Kind == Delete || e.Kind == Login }},
		{"actor id", Filter{Actor: "u1"}, 20, func(e Entry) bool { return e.AccountID == "u1" }},
		{"actor name", Filter{Actor: "user0"}, 20, func(e Entry) bool { return e.AccountName == "user0" }},
		{"repository", Filter{Repository: "repo1"}, 13, func(e Entry) bool { return e.Repository == "repo1" }},
		{"digest", Filter{Digest: fmt.Sprintf("sha256:%064x", 2)}, 8, func(e Entry) bool { return e.Seq%5 == 3 }},
		{"outcome", Filter{Outcome: "denied"}, 20, func(e Entry) bool { return e.Outcome == "denied" }},
		{"time range", Filter{Since: base.Add(10 * time.Second), Until: base.Add(19 * time.Second)}, 10,
			func(e Entry) bool { return e.Seq >= 11 && e.Seq <= 20 }},
		{"combined", Filter{Kinds: []Kind{Push}, Repository: "repo0", Since: base.Add(5 * time.Second)}, 3,
			func(e Entry) bool { return e.Kind == Push && e.Repository == "repo0" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, 7, 1000} {
				var got []Entry
				after := ""
				for range 100 {
					p, err := Query(ctx, s, c.f, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Events) > limit {
						t.Fatalf("page of %d > limit %d", len(p.Events), limit)
					}
					got = append(got, p.Events...)
					if p.Next == "" {
						break
					}
					after = p.Next
				}
				if len(got) != c.want {
					t.Fatalf("limit %d: %d events, want %d: %v", limit, len(got), c.want, seqs(Page{Events: got}))
				}
				for i, e := range got {
					if !c.ok(e) || (i > 0 && e.Seq <= got[i-1].Seq) || e.Hash == "" {
						t.Fatalf("limit %d: unexpected or unordered %+v", limit, e)
					}
				}
			}
		})
	}
	p, err := Query(ctx, s, Filter{}, "", 2)
	if err != nil || len(p.Events) != 2 || p.Events[1].Prev != p.Events[0].Hash {
		t.Errorf("chain links in entries: %+v %v", p, err)
	}
	if _, err := Query(ctx, s, Filter{}, "../../x", 2); err != ErrBadCursor {
		t.Errorf("bad cursor: %v", err)
	}
}

// slowStore holds every Update until released, so that the queue fills.
type slowStore struct {
	kv.Store
	gate    chan struct{}
	entered chan struct{} // closed when the first Update starts waiting
	once    sync.Once
}

func (s *slowStore) Update(ctx context.Context, fn func(kv.Txn) error) error {
	s.once.Do(func() { close(s.entered) })
	<-s.gate
	return s.Store.Update(ctx, fn)
}

func TestShedAndFlush(t *testing.T) {
	ctx := context.Background()
	base := enginetest.Memory(t)
	s := &slowStore{Store: base, gate: make(chan struct{}), entered: make(chan struct{})}
	j := Open(s, Options{Queue: 4, Batch: 2})
	// The writer takes the first event and blocks on the store; the queue
	// then holds 4 more; the rest are shed.
	j.Record(ctx, event(0))
	<-s.entered
	for i := 1; i <= 10; i++ {
		j.Record(ctx, event(i))
	}
	if st := j.Stats(); st.Dropped != 6 || st.Queued != 4 {
		t.Fatalf("stats while blocked: %+v", st)
	}
	close(s.gate)
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	j.Record(ctx, event(99)) // after Close: dropped, no panic
	st := j.Stats()
	// 5 events plus one audit_shed event.
	if st.Written != 6 || st.Dropped != 7 || st.Queued != 0 {
		t.Fatalf("stats after close: %+v", st)
	}
	p, err := Query(ctx, base, Filter{Kinds: []Kind{Shed}}, "", 10)
	if err != nil || len(p.Events) != 1 || !strings.Contains(p.Events[0].Detail, "6 audit events dropped") {
		t.Fatalf("shed event: %+v %v", p, err)
	}
	if rep := verify(t, base); !rep.OK() || rep.Checked != 6 {
		t.Errorf("%+v %+v", rep, rep.Broken)
	}
}

func TestCloseTimeout(t *testing.T) {
	s := &slowStore{Store: enginetest.Memory(t), gate: make(chan struct{}), entered: make(chan struct{})}
	j := Open(s, Options{})
	j.Record(context.Background(), event(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := j.Close(ctx); err == nil {
		t.Error("Close returned while the writer was blocked")
	}
	close(s.gate)
	if err := j.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := enginetest.Memory(t)
	base := time.Unix(1_700_000_000, 0)
	fill(t, s, base, 2500, event)
	n, err := Prune(ctx, s, Retention{MaxCount: 100}, base)
	if err != nil || n.Total() != 2400 || n.Cap != 2400 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	rep := verify(t, s)
	if !rep.OK() || rep.Checked != 100 || rep.First != 2401 {
		t.Fatalf("after prune by count: %+v %+v", rep, rep.Broken)
	}
	// By age: events are one second apart, the newest at base+2499s.
	n, err = Prune(ctx, s, Retention{MaxAge: 10 * time.Second}, base.Add(2499*time.Second))
	if err != nil || n.Total() != 89 || n.Age != 89 {
		t.Fatalf("pruned by age %d, %v", n, err)
	}
	// The anchor moved; deleting the new oldest event is still caught, and
	// the chain keeps growing from the head.
	j := Open(s, Options{Now: func() time.Time { return base.Add(3000 * time.Second) }})
	if _, err := j.Prune(ctx, Retention{MaxCount: 5}); err != nil {
		t.Fatal(err)
	}
	job := j.RetentionJob(time.Hour, Retention{MaxCount: 1000}, s)
	if job.Kind != JobRetention || job.Every != time.Hour {
		t.Errorf("job %+v", job)
	}
	if res, err := job.Run(ctx, nil); err != nil || res != `{"by_age":0,"deleted":0,"over_cap":0}` {
		t.Errorf("job run %q %v", res, err)
	}
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep = verify(t, s)
	if !rep.OK() || rep.Checked != 6 || rep.First != 2496 {
		t.Fatalf("after pruning through the journal: %+v %+v", rep, rep.Broken)
	}
	p, _ := Query(ctx, s, Filter{Kinds: []Kind{Pruned}}, "", 5)
	if len(p.Events) != 1 {
		t.Errorf("pruned event: %+v", p)
	}
	k := keyOf(t, s, 2496)
	if err := s.Update(ctx, func(t kv.Txn) error { return t.Delete(k) }); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, s); rep.OK() || rep.Broken.Seq != 2496 {
		t.Errorf("deleting the anchor: %+v %+v", rep, rep.Broken)
	}
}

// Follow waits for a matching event, skips the ones that do not match
// without reading them twice, and returns empty with a cursor when the
// wait runs out.
func TestFollow(t *testing.T) {
	s := enginetest.Memory(t)
	j := Open(s, Options{})
	defer j.Close(context.Background())
	ctx := context.Background()
	f := Filter{Kinds: []Kind{Delete}}

	p, err := j.Follow(ctx, f, "", 10, 50*time.Millisecond)
	if err != nil || len(p.Events) != 0 || p.Next != "" {
		t.Fatalf("empty log: %+v %v", p, err)
	}
	type result struct {
		p   Page
		err error
	}
	got := make(chan result, 1)
	parked := j.Stats().Parked
	go func() {
		p, err := j.Follow(ctx, f, "", 10, 10*time.Second)
		got <- result{p, err}
	}()
	// Attached: parked once. A push does not match: the follower wakes
	// for its commit, reads it, and parks again instead of returning. It
	// may wake twice for the one commit (the journal's own wake and the
	// store's change notice), so parked again means at least twice.
	wait.For(t, "the follower to wait", func() bool { return j.Stats().Parked == parked+1 })
	j.Record(ctx, event(1))
	wait.For(t, "the follower to wait again after the non-matching event", func() bool {
		select {
		case r := <-got:
			t.Fatalf("woke for a non-matching event: %+v", r.p)
		default:
		}
		return j.Stats().Parked >= parked+2 && j.Stats().Following == 1
	})
	del := event(2)
	del.Kind = Delete
	j.Record(ctx, del)
	var r result
	select {
	case r = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("follower not woken by a matching event")
	}
	if r.err != nil || len(r.p.Events) != 1 || r.p.Events[0].Kind != Delete || r.p.Next != r.p.Events[0].Cursor {
		t.Fatalf("follow page %+v %v", r.p, r.err)
	}
	// Continuing from Next with nothing new: empty, same cursor.
	p, err = j.Follow(ctx, f, r.p.Next, 10, 30*time.Millisecond)
	if err != nil || len(p.Events) != 0 || p.Next != r.p.Next {
		t.Fatalf("after the last event: %+v %v", p, err)
	}
	// A non-matching event moves the cursor past it.
	j.Record(ctx, event(3))
	p, err = j.Follow(ctx, f, r.p.Next, 10, 200*time.Millisecond)
	if err != nil || len(p.Events) != 0 || p.Next <= r.p.Next {
		t.Fatalf("cursor did not move past a non-matching event: %+v (was %s)", p, r.p.Next)
	}
}
