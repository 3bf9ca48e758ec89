package jobs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// fakeLeader is a Leader the test elects and deposes.
type fakeLeader struct {
	mu      sync.Mutex
	lead    bool
	changed chan struct{}
}

func newFakeLeader(lead bool) *fakeLeader {
	return &fakeLeader{lead: lead, changed: make(chan struct{})}
}

func (l *fakeLeader) Leading() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lead, l.changed
}

func (l *fakeLeader) set(lead bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lead = lead
	close(l.changed)
	l.changed = make(chan struct{})
}

// replicaStore is one replica's view of a shared memStore: its leader-only
// saves are fenced by its own leadership, as kv.Fenced does in the store's
// transaction.
type replicaStore struct {
	*memStore
	l *fakeLeader
}

func (s replicaStore) SaveLeaderStatus(ctx context.Context, st Status) error {
	if lead, _ := s.l.Leading(); !lead {
		return errors.New("fenced")
	}
	return s.SaveStatus(ctx, st)
}

func (s replicaStore) RequestRun(_ context.Context, kind string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[kind]
	if st.Active() {
		return ErrRunning
	}
	st.Kind, st.State, st.LastError = kind, Queued, ""
	s.m[kind] = st
	return nil
}

// A trigger on a replica that does not lead is a request in the shared
// store; the leader runs it once, and the follower reports the leader's
// status. A Local job runs where it is triggered.
func TestRunnerFollowerTriggerRunsOnLeader(t *testing.T) {
	shared := newMemStore()
	la, lb := newFakeLeader(true), newFakeLeader(false)
	var onA, onB, local atomic.Int32
	job := func(n *atomic.Int32) Func {
		return func(context.Context, *Progress) (string, error) { n.Add(1); return "done", nil }
	}
	a := startRunner(t, Options{Store: replicaStore{shared, la}, Leader: la, Poll: 5 * time.Millisecond},
		Job{Kind: "gc", Run: job(&onA)})
	b := startRunner(t, Options{Store: replicaStore{shared, lb}, Leader: lb, Poll: 5 * time.Millisecond},
		Job{Kind: "gc", Run: job(&onB)}, Job{Kind: "vlog", Run: job(&local), Local: true})

	if err := b.Trigger("gc"); err != nil {
		t.Fatalf("trigger on the follower: %v", err)
	}
	if st, _ := b.Status("gc"); st.State != Queued && st.State != Running && st.State != Succeeded {
		t.Fatalf("the follower's status after its trigger: %+v", st)
	}
	wait.For(t, "the leader's run", func() bool { return shared.get("gc").State == Succeeded })
	if st, _ := b.Status("gc"); st.State != Succeeded || st.Runs != 1 || st.LastResult != "done" {
		t.Fatalf("the follower reports %+v, want the leader's run", st)
	}
	if onA.Load() != 1 || onB.Load() != 0 {
		t.Fatalf("runs: leader %d, follower %d; want 1 and 0", onA.Load(), onB.Load())
	}
	if err := a.Trigger("gc"); err != nil {
		t.Fatal(err)
	}
	if st := waitRun(t, a, "gc"); st.Runs != 2 || onA.Load() != 2 {
		t.Fatalf("a trigger on the leader: %+v, %d runs", st, onA.Load())
	}
	if err := b.Trigger("vlog"); err != nil {
		t.Fatal(err)
	}
	if st := waitRun(t, b, "vlog"); st.State != Succeeded || local.Load() != 1 {
		t.Fatalf("a local job on the follower: %+v", st)
	}
}

// When the leader loses the lead mid-run its run is cancelled and its last
// saves are fenced out; the replica elected next finds the run Running in
// the store, marks it Interrupted and runs it again to the end.
func TestRunnerTakeoverFinishesTheWork(t *testing.T) {
	shared := newMemStore()
	la, lb := newFakeLeader(true), newFakeLeader(false)
	started := make(chan struct{})
	var finished atomic.Int32
	a := startRunner(t, Options{Store: replicaStore{shared, la}, Leader: la, Poll: 5 * time.Millisecond},
		Job{Kind: "gc", Run: func(ctx context.Context, _ *Progress) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		}})
	b := startRunner(t, Options{Store: replicaStore{shared, lb}, Leader: lb, Poll: 5 * time.Millisecond},
		Job{Kind: "gc", Run: func(context.Context, *Progress) (string, error) {
			finished.Add(1)
			return "finished", nil
		}})
	if err := a.Trigger("gc"); err != nil {
		t.Fatal(err)
	}
	<-started
	la.set(false)
	waitRun(t, a, "gc") // its run ended (cancelled)
	if st := shared.get("gc"); st.State != Running {
		t.Fatalf("the shared status after the deposed leader's run ended: %+v (its save must be fenced out)", st)
	}
	lb.set(true)
	wait.For(t, "the new leader's run", func() bool { return shared.get("gc").State == Succeeded })
	if st, _ := b.Status("gc"); finished.Load() != 1 || st.LastResult != "finished" {
		t.Fatalf("new leader: %d runs, status %+v", finished.Load(), st)
	}
	if st, _ := a.Status("gc"); st.State != Succeeded {
		t.Fatalf("the old leader, now a follower, reports %+v", st)
	}
}

// A family kind triggered on a follower runs on the leader, which makes
// the run from the kind it finds requested in the shared store; any
// replica reports its status, even one that never saw the kind. When the
// leader is deposed mid-run, the next one runs it again to the end.
func TestRunnerFamilyRunsOnLeader(t *testing.T) {
	shared := newMemStore()
	la, lb := newFakeLeader(true), newFakeLeader(false)
	ran := map[string]*atomic.Int32{"a": new(atomic.Int32), "b": new(atomic.Int32), "third": new(atomic.Int32)}
	family := func(who string) Family {
		return Family{Prefix: "repo-delete:", Make: func(arg string) Func {
			return func(context.Context, *Progress) (string, error) {
				ran[who].Add(1)
				return who + " deleted " + arg, nil
			}
		}}
	}
	start := func(l *fakeLeader, f Family) *Runner {
		return startFamily(t, Options{Store: replicaStore{shared, l}, Leader: l, Poll: 5 * time.Millisecond}, f)
	}
	start(la, family("a"))
	b := start(lb, family("b"))
	third := start(newFakeLeader(false), family("third"))

	if err := b.Trigger("repo-delete:ci/x"); err != nil {
		t.Fatalf("trigger on the follower: %v", err)
	}
	if err := b.Trigger("repo-delete:ci/x"); err != nil && !errors.Is(err, ErrRunning) {
		t.Fatalf("second trigger: %v", err)
	}
	wait.For(t, "the leader's run", func() bool { return shared.get("repo-delete:ci/x").State == Succeeded })
	if st, ok := third.Status("repo-delete:ci/x"); !ok || st.LastResult != "a deleted ci/x" {
		t.Fatalf("a replica that never saw the kind reports %+v %v", st, ok)
	}
	if st, _ := b.Status("repo-delete:ci/x"); st.State != Succeeded {
		t.Fatalf("the follower reports %+v", st)
	}
	if ran["a"].Load() != 1 || ran["b"].Load()+ran["third"].Load() != 0 {
		t.Fatalf("runs: leader %d, followers %d and %d; want 1, 0, 0", ran["a"].Load(), ran["b"].Load(), ran["third"].Load())
	}
	if _, ok := third.Status("repo-delete:never"); ok {
		t.Fatal("a kind never triggered has a status")
	}
}

// A deposed leader's family run ends without its last save; the next
// leader finds it Running in the store and runs it again.
func TestRunnerFamilyTakeover(t *testing.T) {
	shared := newMemStore()
	la, lb := newFakeLeader(true), newFakeLeader(false)
	started := make(chan struct{})
	var finished atomic.Int32
	start := func(l *fakeLeader, run Func) *Runner {
		return startFamily(t, Options{Store: replicaStore{shared, l}, Leader: l, Poll: 5 * time.Millisecond},
			Family{Prefix: "repo-delete:", Make: func(string) Func { return run }})
	}
	a := start(la, func(ctx context.Context, _ *Progress) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	})
	start(lb, func(context.Context, *Progress) (string, error) { finished.Add(1); return "finished", nil })
	if err := a.Trigger("repo-delete:ci/y"); err != nil {
		t.Fatal(err)
	}
	<-started
	la.set(false)
	waitRun(t, a, "repo-delete:ci/y")
	if st := shared.get("repo-delete:ci/y"); st.State != Running {
		t.Fatalf("the shared status after the deposed leader's run: %+v", st)
	}
	lb.set(true)
	wait.For(t, "the new leader's run", func() bool { return shared.get("repo-delete:ci/y").State == Succeeded })
	if finished.Load() != 1 {
		t.Fatalf("the new leader ran it %d times", finished.Load())
	}
}

// A follower lists every kind's status with one read of the shared store,
// however many leader-only kinds there are (a /metrics scrape lists them).
func TestRunnerFollowerStatusesReadOnce(t *testing.T) {
	shared := newMemStore()
	la, lb := newFakeLeader(true), newFakeLeader(false)
	var kinds []Job
	for _, k := range []string{"gc", "gc-dry-run", "upload-expiry", "audit-retention"} {
		kinds = append(kinds, Job{Kind: k, Run: func(context.Context, *Progress) (string, error) { return k + " done", nil }})
	}
	a := startRunner(t, Options{Store: replicaStore{shared, la}, Leader: la, Poll: time.Hour}, kinds...)
	b := startRunner(t, Options{Store: replicaStore{shared, lb}, Leader: lb, Poll: time.Hour},
		append(kinds, Job{Kind: "vlog", Local: true, Run: func(context.Context, *Progress) (string, error) { return "", nil }})...)
	for _, j := range kinds {
		if err := a.Trigger(j.Kind); err != nil {
			t.Fatal(err)
		}
		waitRun(t, a, j.Kind)
	}
	before := shared.readCount()
	sts := b.Statuses()
	if n := shared.readCount() - before; n != 1 {
		t.Fatalf("Statuses on a follower read the shared store %d times, want 1", n)
	}
	if len(sts) != 5 {
		t.Fatalf("statuses: %+v", sts)
	}
	for _, st := range sts[:4] { // by kind: vlog, the follower's own, is last
		if st.State != Succeeded || st.LastResult != st.Kind+" done" {
			t.Fatalf("the follower reports %+v, want the leader's run", st)
		}
	}
}

// A follower forgets its entry of a family kind it asked the leader to
// run when the leader's saved status has ended Keep ago, or is gone; the
// store is the leader's to prune, not the follower's.
func TestRunnerFamilyPruneOnFollower(t *testing.T) {
	clock := newFakeClock()
	shared := newMemStore()
	b := startFamily(t, Options{Store: replicaStore{shared, newFakeLeader(false)}, Leader: newFakeLeader(false), Clock: clock},
		Family{Prefix: "repo-delete:", Make: func(string) Func { return nil }})
	for _, kind := range []string{"repo-delete:x", "repo-delete:y"} {
		if err := b.Trigger(kind); err != nil {
			t.Fatal(err)
		}
	}
	// The leader ran x; it forgot y already.
	if err := shared.SaveStatus(context.Background(), Status{Kind: "repo-delete:x", State: Succeeded, Finished: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	shared.mu.Lock()
	delete(shared.m, "repo-delete:y")
	shared.mu.Unlock()
	clock.Advance(pruneEvery)
	b.prune()
	if got, want := listed(b), []string{"repo-delete:x"}; !slices.Equal(got, want) {
		t.Fatalf("listed within Keep: %v, want %v", got, want)
	}
	clock.Advance(DefaultKeep)
	b.prune()
	if got := listed(b); len(got) != 0 {
		t.Fatalf("listed after Keep: %v", got)
	}
	if got := shared.kinds(); !slices.Equal(got, []string{"repo-delete:x"}) {
		t.Fatalf("the follower pruned the store: %v left", got)
	}
}
