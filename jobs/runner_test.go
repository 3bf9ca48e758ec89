package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   chan struct{} // one token per NewTimer
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), made: make(chan struct{}, 1024)}
}

type fakeTimer struct {
	at      time.Time
	c       chan time.Time
	stopped bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool          { t.stopped = true; return true }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.made <- struct{}{}
	return t
}

// Advance moves time and fires the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.c <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// awaitTimer waits until a schedule has armed its next timer.
func (c *fakeClock) awaitTimer(t *testing.T) {
	t.Helper()
	select {
	case <-c.made:
	case <-time.After(10 * time.Second):
		t.Fatal("no timer was armed")
	}
}

// memStore is an in-memory StatusStore that counts saves and reads.
type memStore struct {
	mu    sync.Mutex
	m     map[string]Status
	saves int
	reads int
	fail  error
}

func newMemStore() *memStore { return &memStore{m: map[string]Status{}} }

func (s *memStore) LoadStatus(_ context.Context, kind string) (Status, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	st, ok := s.m[kind]
	return st, ok, nil
}

func (s *memStore) LoadStatuses(context.Context) ([]Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := make([]Status, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	return out, nil
}

func (s *memStore) readCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

func (s *memStore) SaveStatus(_ context.Context, st Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.fail != nil {
		return s.fail
	}
	s.m[st.Kind] = st
	return nil
}

// PruneStatuses makes memStore a StatusPruner.
func (s *memStore) PruneStatuses(_ context.Context, prefix string, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for kind, st := range s.m {
		if strings.HasPrefix(kind, prefix) && st.EndedBefore(before) {
			delete(s.m, kind)
			n++
		}
	}
	return n, nil
}

func (s *memStore) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.m))
}

func (s *memStore) get(kind string) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[kind]
}

func startRunner(t *testing.T, o Options, jobs ...Job) *Runner {
	t.Helper()
	r := NewRunner(o)
	for _, j := range jobs {
		if err := r.Register(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

func waitRun(t *testing.T, r *Runner, kind string) Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.Wait(ctx, kind)
	if err != nil {
		t.Fatalf("wait for %s: %v", kind, err)
	}
	return s
}

func TestRunnerTriggerRecordsStatus(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	r := startRunner(t, Options{Clock: clock, Store: store}, Job{Kind: "gc", Run: func(ctx context.Context, p *Progress) (string, error) {
		p.Report(3, 10, "mark")
		return `{"swept":3}`, nil
	}})
	if s, _ := r.Status("gc"); s.State != Idle {
		t.Fatalf("before any run: %+v", s)
	}
	if err := r.Trigger("gc"); err != nil {
		t.Fatal(err)
	}
	s := waitRun(t, r, "gc")
	if s.State != Succeeded || s.LastResult != `{"swept":3}` || s.LastError != "" || s.Runs != 1 ||
		s.Done != 3 || s.Total != 10 || s.Note != "mark" || s.Started.IsZero() || s.Finished.IsZero() {
		t.Fatalf("status after a run: %+v", s)
	}
	if got := store.get("gc"); got.State != Succeeded || got.LastResult != s.LastResult || got.Runs != 1 {
		t.Fatalf("persisted status: %+v", got)
	}
	if err := r.Trigger("nope"); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("Trigger of an unknown kind = %v", err)
	}
}

func TestRunnerOneRunPerKind(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int64
	r := startRunner(t, Options{}, Job{Kind: "gc", Run: func(ctx context.Context, _ *Progress) (string, error) {
		runs.Add(1)
		<-release
		return "", nil
	}})
	if err := r.Trigger("gc"); err != nil {
		t.Fatal(err)
	}
	if err := r.Trigger("gc"); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Trigger while active = %v, want ErrRunning", err)
	}
	close(release)
	waitRun(t, r, "gc")
	if err := r.Trigger("gc"); err != nil {
		t.Fatalf("Trigger after the run ended: %v", err)
	}
	waitRun(t, r, "gc")
	if runs.Load() != 2 {
		t.Fatalf("runs = %d, want 2", runs.Load())
	}
}

func TestRunnerBoundsWorkers(t *testing.T) {
	var cur, peak atomic.Int64
	release := make(chan struct{})
	job := func(ctx context.Context, _ *Progress) (string, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		return "", nil
	}
	var jobs []Job
	for i := range 5 {
		jobs = append(jobs, Job{Kind: fmt.Sprint("k", i), Run: job})
	}
	r := startRunner(t, Options{Workers: 2}, jobs...)
	for _, j := range jobs {
		if err := r.Trigger(j.Kind); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, "two running", func() bool { return cur.Load() == 2 })
	queued := 0
	for _, s := range r.Statuses() {
		if s.State == Queued {
			queued++
		}
	}
	if queued != 3 {
		t.Fatalf("%d queued, want 3: %+v", queued, r.Statuses())
	}
	close(release)
	for _, j := range jobs {
		if s := waitRun(t, r, j.Kind); s.State != Succeeded {
			t.Fatalf("%s: %+v", j.Kind, s)
		}
	}
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency %d, want 2", peak.Load())
	}
}

func TestRunnerPanicIsolated(t *testing.T) {
	r := startRunner(t, Options{Workers: 1},
		Job{Kind: "bad", Run: func(context.Context, *Progress) (string, error) { panic("kaboom") }},
		Job{Kind: "good", Run: func(context.Context, *Progress) (string, error) { return "ok", nil }})
	if err := r.Trigger("bad"); err != nil {
		t.Fatal(err)
	}
	if s := waitRun(t, r, "bad"); s.State != Failed || !strings.Contains(s.LastError, "kaboom") {
		t.Fatalf("panicking job: %+v", s)
	}
	if err := r.Trigger("good"); err != nil {
		t.Fatal(err)
	}
	if s := waitRun(t, r, "good"); s.State != Succeeded {
		t.Fatalf("job after a panic: %+v", s)
	}
}

func TestRunnerCancelAndTimeout(t *testing.T) {
	block := func(ctx context.Context, _ *Progress) (string, error) {
		<-ctx.Done()
		return "partial", ctx.Err()
	}
	r := startRunner(t, Options{},
		Job{Kind: "long", Run: block},
		Job{Kind: "bounded", Run: block, Timeout: 10 * time.Millisecond})
	if r.Cancel("long") {
		t.Fatal("Cancel with nothing running reported true")
	}
	if err := r.Trigger("long"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "running", func() bool { s, _ := r.Status("long"); return s.State == Running })
	if !r.Cancel("long") {
		t.Fatal("Cancel of a running job reported false")
	}
	if s := waitRun(t, r, "long"); s.State != Cancelled || s.LastResult != "partial" {
		t.Fatalf("cancelled job: %+v", s)
	}
	if err := r.Trigger("bounded"); err != nil {
		t.Fatal(err)
	}
	if s := waitRun(t, r, "bounded"); s.State != Failed || !strings.Contains(s.LastError, "deadline") {
		t.Fatalf("timed-out job: %+v", s)
	}
}

func TestRunnerSchedule(t *testing.T) {
	clock := newFakeClock()
	var runs atomic.Int64
	r := startRunner(t, Options{Clock: clock}, Job{Kind: "vlog", Every: time.Hour, Run: func(context.Context, *Progress) (string, error) {
		runs.Add(1)
		return "", nil
	}})
	clock.awaitTimer(t)
	if s, _ := r.Status("vlog"); !s.Next.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("first run of a never-run job due at %v, want an hour after start", s.Next)
	}
	clock.Advance(59 * time.Minute)
	if runs.Load() != 0 {
		t.Fatal("ran early")
	}
	for i := int64(1); i <= 3; i++ {
		clock.Advance(time.Hour)
		clock.awaitTimer(t) // the schedule re-armed after triggering
		waitRun(t, r, "vlog")
		wait.For(t, "run", func() bool { return runs.Load() == i })
	}
}

func TestRunnerRestart(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	// A previous process died mid-run, 30 minutes ago, of a job due hourly.
	store.m["gc"] = Status{Kind: "gc", State: Running, Started: clock.Now().Add(-30 * time.Minute), LastResult: "old", Runs: 7}
	store.m["vlog"] = Status{Kind: "vlog", State: Succeeded, Started: clock.Now().Add(-5 * time.Hour), Runs: 2}
	nop := func(context.Context, *Progress) (string, error) { return "", nil }
	r := startRunner(t, Options{Clock: clock, Store: store, CatchUp: time.Minute},
		Job{Kind: "gc", Every: time.Hour, Run: nop},
		Job{Kind: "vlog", Every: time.Hour, Run: nop})
	s, _ := r.Status("gc")
	if s.State != Interrupted || s.LastResult != "old" || s.Runs != 7 || !strings.Contains(s.LastError, "interrupted") {
		t.Fatalf("status of a run cut short by the last process: %+v", s)
	}
	if store.get("gc").State != Interrupted {
		t.Fatal("interruption not persisted")
	}
	clock.awaitTimer(t)
	clock.awaitTimer(t)
	gs, _ := r.Status("gc")
	vs, _ := r.Status("vlog")
	if want := clock.Now().Add(30 * time.Minute); !gs.Next.Equal(want) {
		t.Fatalf("gc next run %v, want %v (an hour after its last start)", gs.Next, want)
	}
	if want := clock.Now().Add(time.Minute); !vs.Next.Equal(want) {
		t.Fatalf("overdue vlog next run %v, want %v (CatchUp after start)", vs.Next, want)
	}
}

// A family kind is made from its argument when triggered, runs and keeps
// its status like a registered kind; an unknown prefix is ErrUnknownJob.
func TestRunnerFamily(t *testing.T) {
	fam := Family{Prefix: "repo-delete:", Make: func(arg string) Func {
		return func(context.Context, *Progress) (string, error) { return "deleted " + arg, nil }
	}}
	r := NewRunner(Options{Store: newMemStore()})
	if err := r.RegisterFamily(fam); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterFamily(Family{Prefix: "repo-", Make: fam.Make}); err == nil {
		t.Fatal("an overlapping family was registered")
	}
	if err := r.Trigger("repo-delete:ci/a"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Trigger of a family kind before Start = %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	if err := r.Trigger("repo-delete:ci/a"); err != nil {
		t.Fatal(err)
	}
	if s := waitRun(t, r, "repo-delete:ci/a"); s.State != Succeeded || s.LastResult != "deleted ci/a" {
		t.Fatalf("family run: %+v", s)
	}
	for _, kind := range []string{"repo-delete:", "other:x"} {
		if err := r.Trigger(kind); !errors.Is(err, ErrUnknownJob) {
			t.Fatalf("Trigger(%q) = %v, want ErrUnknownJob", kind, err)
		}
	}
	if err := r.Register(Job{Kind: "late", Run: func(context.Context, *Progress) (string, error) { return "", nil }}); err == nil {
		t.Fatal("Register after Start succeeded")
	}
}

func TestRunnerStopCancelsEverything(t *testing.T) {
	started := make(chan struct{})
	block := func(ctx context.Context, _ *Progress) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	}
	r := NewRunner(Options{Workers: 1})
	_ = r.Register(Job{Kind: "a", Run: block})
	_ = r.Register(Job{Kind: "b", Run: func(context.Context, *Progress) (string, error) { t.Error("queued job ran after Stop"); return "", nil }})
	_ = r.Register(Job{Kind: "tick", Every: time.Hour, Run: func(context.Context, *Progress) (string, error) { return "", nil }})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = r.Trigger("a")
	<-started
	_ = r.Trigger("b")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.Status("a"); s.State != Cancelled {
		t.Fatalf("running job after Stop: %+v", s)
	}
	if s, _ := r.Status("b"); s.State != Cancelled {
		t.Fatalf("queued job after Stop: %+v", s)
	}
	if err := r.Trigger("a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Trigger after Stop = %v", err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestRunnerStoreFailureDoesNotFailJob(t *testing.T) {
	store := newMemStore()
	store.fail = errors.New("disk full")
	var reported atomic.Int64
	r := startRunner(t, Options{Store: store, OnError: func(string, error) { reported.Add(1) }},
		Job{Kind: "gc", Run: func(context.Context, *Progress) (string, error) { return "", nil }})
	if err := r.Trigger("gc"); err != nil {
		t.Fatal(err)
	}
	if s := waitRun(t, r, "gc"); s.State != Succeeded {
		t.Fatalf("%+v", s)
	}
	wait.For(t, "store errors reported", func() bool { return reported.Load() >= 2 })
}

// startFamily starts a Runner with one family, stopped at the test's end.
func startFamily(t *testing.T, o Options, f Family) *Runner {
	t.Helper()
	r := NewRunner(o)
	if err := r.RegisterFamily(f); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func listed(r *Runner) []string {
	var kinds []string
	for _, st := range r.Statuses() {
		kinds = append(kinds, st.Kind)
	}
	return kinds
}

// A family kind's status is listed, and kept in the store, for Keep after
// its run ended, failed runs too; then the kind is forgotten in both, and
// triggering it again starts afresh. Families counts every run.
func TestRunnerFamilyPrune(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	r := startFamily(t, Options{Clock: clock, Store: store}, Family{Prefix: "repo-delete:", Keep: 10 * time.Minute, Make: func(arg string) Func {
		return func(context.Context, *Progress) (string, error) {
			if arg == "bad" {
				return "", errors.New("no such repository")
			}
			return "deleted " + arg, nil
		}
	}})
	run := func(kind string) Status {
		t.Helper()
		if err := r.Trigger(kind); err != nil {
			t.Fatal(err)
		}
		return waitRun(t, r, kind)
	}
	run("repo-delete:a")
	run("repo-delete:bad")
	clock.Advance(5 * time.Minute)
	run("repo-delete:b")
	want := []string{"repo-delete:a", "repo-delete:b", "repo-delete:bad"}
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed within Keep: %v, want %v", got, want)
	}
	clock.Advance(6 * time.Minute) // a and bad ended 11 minutes ago, b 6
	run("repo-delete:c")
	want = []string{"repo-delete:b", "repo-delete:c"}
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed after Keep: %v, want %v", got, want)
	}
	if got := store.kinds(); !slices.Equal(got, want) {
		t.Fatalf("stored after Keep: %v, want %v", got, want)
	}
	if st, ok := r.Status("repo-delete:a"); ok {
		t.Fatalf("status of a forgotten kind: %+v", st)
	}
	if st := run("repo-delete:a"); st.State != Succeeded || st.Runs != 1 {
		t.Fatalf("a forgotten kind triggered again: %+v", st)
	}
	fams := r.Families()
	if len(fams) != 1 || fams[0].Prefix != "repo-delete:" || fams[0].Active != 0 ||
		fams[0].Runs[Succeeded] != 4 || fams[0].Runs[Failed] != 1 {
		t.Fatalf("Families() = %+v", fams)
	}
}

// Triggers of the same family kinds racing with the pruning that forgets
// them: never two runs of one kind at once, and every accepted trigger
// runs exactly once (a trigger whose entry was pruned between its lookup
// and its enqueue must neither be lost nor start a second entry).
func TestRunnerFamilyPruneRace(t *testing.T) {
	clock := newFakeClock()
	var running [2]atomic.Int32
	r := startFamily(t, Options{Clock: clock, Store: newMemStore()}, Family{Prefix: "k:", Keep: time.Nanosecond, Make: func(arg string) Func {
		i := int(arg[0] - '0')
		return func(context.Context, *Progress) (string, error) {
			if n := running[i].Add(1); n > 1 {
				t.Errorf("kind k:%s: %d runs at once", arg, n)
			}
			running[i].Add(-1)
			return "", nil
		}
	}})
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				switch err := r.Trigger(fmt.Sprintf("k:%d", (g+i)%2)); {
				case err == nil:
					accepted.Add(1)
				case !errors.Is(err, ErrRunning):
					t.Error(err)
				}
			}
		}()
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for {
			select {
			case <-stop:
				return
			default:
				clock.Advance(pruneEvery)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-ticked
	finished := func() int64 {
		f := r.Families()[0]
		if f.Active > 0 {
			return -1
		}
		var n int64
		for _, c := range f.Runs {
			n += c
		}
		return n
	}
	wait.For(t, "every accepted run to finish", func() bool { return finished() == accepted.Load() })
	t.Logf("%d triggers accepted and run", accepted.Load())
}

// The window the race test can only hope to hit: a trigger found a kind's
// ended entry, then, before it queued the run, the entry was pruned and
// another trigger made a new one and started it. The first trigger must
// see that run (ErrRunning), not start a second one on the old entry.
func TestRunnerTriggerAfterPrune(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	var runs atomic.Int32
	r := startFamily(t, Options{Clock: clock, Store: newMemStore()}, Family{Prefix: "k:", Keep: time.Minute, Make: func(string) Func {
		return func(context.Context, *Progress) (string, error) {
			if runs.Add(1) > 1 {
				<-release
			}
			return "", nil
		}
	}})
	if err := r.Trigger("k:a"); err != nil {
		t.Fatal(err)
	}
	waitRun(t, r, "k:a")
	// Not yet time for the next prune: the first trigger's own prune
	// leaves the ended entry for it to find; the hook's then removes it.
	clock.Advance(pruneEvery / 2)
	var hooked atomic.Bool // the hook runs again inside the second trigger
	testHookLookedUp = func() {
		if hooked.CompareAndSwap(false, true) {
			clock.Advance(time.Minute + pruneEvery)
			r.prune()
			if err := r.Trigger("k:a"); err != nil {
				t.Errorf("the second trigger: %v", err)
			}
		}
	}
	defer func() { testHookLookedUp = nil }()
	if err := r.Trigger("k:a"); !errors.Is(err, ErrRunning) {
		t.Errorf("the first trigger, its entry pruned and replaced: %v, want ErrRunning", err)
	}
	close(release)
	waitRun(t, r, "k:a")
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2 (the first trigger's, then the second's)", n)
	}
}
