package jobs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/panics"
	"github.com/sourcegraph/conc/pool"
)

// Func is a job's body. It should return soon after ctx ends. result is
// kept in the kind's Status as LastResult.
type Func func(ctx context.Context, p *Progress) (result string, err error)

// Job is a kind of background work.
type Job struct {
	Kind string
	Run  Func
	// Every schedules a run this often; 0 runs the job on demand only.
	Every time.Duration
	// Timeout bounds one run; 0 is no bound.
	Timeout time.Duration
	// Local runs the job on every process, leader or not (compacting a
	// process's own files). Without it, when the Runner has a Leader, the
	// job runs only on the leader (leader.go).
	Local bool
}

// Options configures a Runner. The zero value is usable.
type Options struct {
	// Workers bounds how many runs (of different kinds) execute at once.
	// Default 2.
	Workers int
	// Queue bounds the runs waiting for a worker. Default 64.
	Queue int
	// Store persists statuses; nil keeps them in memory only.
	Store StatusStore
	// Clock tells the time and drives schedules; nil is the real clock.
	Clock Clock
	// CatchUp is how long after Start a periodic job whose run is overdue
	// (the process was down when it was due) runs. Default 1 minute.
	CatchUp time.Duration
	// OnError is told about status store failures; nil ignores them.
	OnError func(kind string, err error)
	// OnFinish is told about every finished run, for logging.
	OnFinish func(Status)
	// Leader, when set, restricts the jobs that are not Local to the
	// process it says leads (several replicas sharing one store); Store
	// must then be a SharedStatusStore. nil: this process always leads.
	Leader Leader
	// Poll is how often the leader looks in the shared store for runs
	// other replicas requested, and re-checks its leadership. Default 1s.
	Poll time.Duration
}

// Runner runs jobs on a bounded worker pool (conc), on demand (Trigger: a
// registered kind, or a kind of a registered Family) and on schedules
// (Job.Every), with at most one queued or running run per kind.
//
// Its mutex guards the job table only; it is never held while a job runs or
// while a status is saved, and no request path takes it.
type Runner struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*entry
	// families are registered before Start and only read after it.
	families []Family
	// familyRuns counts each family's finished runs by outcome, index
	// for index with families; guarded by mu.
	familyRuns []map[State]int64
	nextPrune  time.Time     // guarded by mu (prune.go)
	state      int           // runnerNew, runnerStarted, runnerStopped; guarded by mu
	exited     chan struct{} // closed when every goroutine the Runner started has exited

	queue  chan *run
	ctx    context.Context // parent of every run; cancelled by Stop
	cancel context.CancelFunc
	pool   *pool.Pool
	bg     conc.WaitGroup // dispatcher and schedules
}

const (
	runnerNew = iota
	runnerStarted
	runnerStopped
)

type entry struct {
	job    Job
	status Status             // guarded by Runner.mu
	cancel context.CancelFunc // of the active run; guarded by Runner.mu
	idle   chan struct{}      // closed while no run is active; guarded by Runner.mu
	saved  time.Time          // last progress save; guarded by Runner.mu
	// deposed: the active run was cancelled because this process lost
	// the lead; it ends Interrupted, for the next leader to run again.
	// Guarded by Runner.mu.
	deposed bool
	saveMu  sync.Mutex // orders saves, so the last one written is the newest
}

type run struct {
	e      *entry
	ctx    context.Context
	cancel context.CancelFunc
}

// NewRunner returns a Runner with no jobs.
func NewRunner(o Options) *Runner {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.CatchUp <= 0 {
		o.CatchUp = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{
		opts:    o,
		entries: map[string]*entry{},
		queue:   make(chan *run, o.Queue),
		ctx:     ctx,
		cancel:  cancel,
		pool:    pool.New().WithMaxGoroutines(o.Workers),
		exited:  make(chan struct{}),
	}
}

func newEntry(j Job) *entry {
	idle := make(chan struct{})
	close(idle)
	return &entry{job: j, status: Status{Kind: j.Kind, State: Idle}, idle: idle}
}

// Register adds a job kind. It must be called before Start.
func (r *Runner) Register(j Job) error {
	if j.Kind == "" || j.Run == nil || j.Every < 0 || j.Timeout < 0 {
		return errors.New("jobs: a job needs a kind, a function, and no negative durations")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != runnerNew {
		return errors.New("jobs: Register after Start")
	}
	if _, ok := r.entries[j.Kind]; ok {
		return errors.New("jobs: kind " + j.Kind + " registered twice")
	}
	r.entries[j.Kind] = newEntry(j)
	return nil
}

// Start loads the persisted statuses, marks runs that a previous process
// left queued or running as Interrupted, and starts the schedules. ctx
// bounds the loading only.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.state != runnerNew {
		r.mu.Unlock()
		return errors.New("jobs: Start called twice")
	}
	entries := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	if r.opts.Leader != nil {
		if _, ok := r.opts.Store.(SharedStatusStore); !ok {
			return errors.New("jobs: a Runner with a Leader needs a SharedStatusStore")
		}
	}
	for _, e := range entries {
		if err := r.load(ctx, e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.state = runnerStarted
	r.mu.Unlock()
	r.bg.Go(r.dispatch)
	if r.opts.Leader != nil {
		r.bg.Go(r.follow)
	}
	for _, e := range entries {
		if e.job.Every > 0 {
			r.bg.Go(func() { r.schedule(e) })
		}
	}
	return nil
}

// load reads e's persisted status (outside r.mu: it is I/O).
func (r *Runner) load(ctx context.Context, e *entry) error {
	if r.opts.Store == nil {
		return nil
	}
	s, ok, err := r.opts.Store.LoadStatus(ctx, e.job.Kind)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	s.Kind = e.job.Kind
	s.Next = time.Time{}
	// A leader-only kind's active run belongs to whichever replica leads:
	// the one elected decides (follow), not every process that starts.
	interrupted := s.Active() && !r.leaderOnly(e)
	if interrupted {
		s.State = Interrupted
		s.LastError = "interrupted: the process stopped during the run"
	}
	r.mu.Lock()
	e.status = s
	r.mu.Unlock()
	if interrupted {
		r.persist(e)
	}
	return nil
}

// Trigger queues a run of a registered kind, or of a kind of a registered
// family. It returns ErrRunning when one is already queued or running,
// ErrBusy when the run queue is full.
func (r *Runner) Trigger(kind string) error {
	if r.IsFamily(kind) {
		r.prune()
	}
	r.mu.Lock()
	// A family's entries are made once started: Start adopts only the
	// registered kinds.
	e, ok := r.lookupLocked(kind, r.state == runnerStarted)
	r.mu.Unlock()
	if !ok {
		if _, fam := r.family(kind); fam {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.stateErr()
		}
		return ErrUnknownJob
	}
	if testHookLookedUp != nil {
		testHookLookedUp()
	}
	if r.leaderOnly(e) && !r.leading() {
		return r.request(e)
	}
	return r.enqueue(e)
}

// testHookLookedUp, set by a test, runs in Trigger between finding the
// kind's entry and queueing its run: the window a prune can fall in.
var testHookLookedUp func()

func (r *Runner) stateErr() error {
	if r.state == runnerStopped {
		return ErrClosed
	}
	return ErrNotStarted
}

// enqueue queues a run of e's job. e is looked up again here: a family
// kind's entry found before the lock was taken may have been pruned since
// (it is put back) or replaced by a newer one (which is used), so that a
// kind never has two entries, nor two runs.
func (r *Runner) enqueue(e *entry) error {
	r.mu.Lock()
	if r.state != runnerStarted {
		err := r.stateErr()
		r.mu.Unlock()
		return err
	}
	if cur, ok := r.entries[e.job.Kind]; ok {
		e = cur
	} else {
		r.entries[e.job.Kind] = e
	}
	if e.status.Active() {
		r.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(r.ctx)
	select {
	case r.queue <- &run{e: e, ctx: ctx, cancel: cancel}:
	default:
		r.mu.Unlock()
		cancel()
		return ErrBusy
	}
	e.status.State = Queued
	e.status.LastError = ""
	e.cancel = cancel
	e.deposed = false
	e.idle = make(chan struct{})
	r.mu.Unlock()
	r.persist(e)
	return nil
}

// dispatch hands queued runs to the pool, which blocks it while every
// worker is busy. After Stop it drains the queue: those runs end Cancelled.
func (r *Runner) dispatch() {
	for {
		select {
		case x := <-r.queue:
			r.pool.Go(func() { r.execute(x) })
		case <-r.ctx.Done():
			for {
				select {
				case x := <-r.queue:
					r.execute(x)
				default:
					return
				}
			}
		}
	}
}

func (r *Runner) execute(x *run) {
	e := x.e
	defer x.cancel()
	r.mu.Lock()
	if x.ctx.Err() != nil {
		r.finishLocked(e, "", x.ctx.Err(), true)
		return
	}
	e.status.State = Running
	e.status.Started = r.opts.Clock.Now()
	e.status.Finished = time.Time{}
	e.status.Done, e.status.Total, e.status.Note = 0, 0, ""
	r.mu.Unlock()
	r.persist(e)

	ctx := x.ctx
	if e.job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.job.Timeout)
		defer cancel()
	}
	var (
		res string
		err error
		c   panics.Catcher
	)
	c.Try(func() { res, err = e.job.Run(ctx, &Progress{r: r, e: e}) })
	if p := c.Recovered(); p != nil {
		err = &PanicError{Value: p.Value, Stack: p.Stack}
	}
	r.mu.Lock()
	r.finishLocked(e, res, err, x.ctx.Err() != nil && errors.Is(err, context.Canceled))
}

// finishLocked records the end of e's run; it is called with r.mu held and
// releases it.
func (r *Runner) finishLocked(e *entry, res string, err error, cancelled bool) {
	s := &e.status
	s.Finished = r.opts.Clock.Now()
	s.Runs++
	if res != "" {
		s.LastResult = res
	}
	switch {
	case err == nil:
		s.State, s.LastError = Succeeded, ""
	case cancelled && e.deposed:
		s.State, s.LastError = Interrupted, "interrupted: this replica lost the lead during the run"
	case cancelled:
		s.State, s.LastError = Cancelled, err.Error()
	default:
		s.State, s.LastError = Failed, err.Error()
	}
	e.cancel = nil
	fam, inFamily := r.familyIndex(e.job.Kind)
	if inFamily {
		r.familyRuns[fam][s.State]++
	}
	// Waiters are released only once the final status is saved, so what
	// Wait returns is also what a restart would load. A run enqueued in
	// between gets an idle channel of its own.
	idle := e.idle
	st := *s
	r.mu.Unlock()
	r.persist(e)
	close(idle)
	if r.opts.OnFinish != nil {
		r.opts.OnFinish(st)
	}
	if inFamily {
		r.prune()
	}
}

func (r *Runner) progress(e *entry, done, total int64, note string) {
	r.mu.Lock()
	// A new phase is saved at once, so that other replicas (and an
	// operator) see where a run is; progress within a phase at most once
	// a second.
	phase := note != e.status.Note
	e.status.Done, e.status.Total, e.status.Note = done, total, note
	now := r.opts.Clock.Now()
	save := phase || now.Sub(e.saved) >= time.Second
	if save {
		e.saved = now
	}
	r.mu.Unlock()
	if save {
		r.persist(e)
	}
}

// persist saves e's current status. Saves of one kind are serialized and
// each writes the status as it is when it runs, so the last save is never
// older than the last change.
func (r *Runner) persist(e *entry) {
	if r.opts.Store == nil {
		return
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	r.mu.Lock()
	s := e.status
	r.mu.Unlock()
	// A status write must not be lost to the cancellation that ends a run.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
	defer cancel()
	save := r.opts.Store.SaveStatus
	if r.leaderOnly(e) {
		save = r.opts.Store.(SharedStatusStore).SaveLeaderStatus
	}
	if err := save(ctx, s); err != nil && r.opts.OnError != nil {
		r.opts.OnError(s.Kind, err)
	}
}

// schedule triggers e every e.job.Every. The first run is due Every after
// the last persisted start (CatchUp after Start if that is already past),
// so restarts neither skip nor multiply periodic work.
func (r *Runner) schedule(e *entry) {
	now := r.opts.Clock.Now()
	r.mu.Lock()
	last := e.status.Started
	r.mu.Unlock()
	next := now.Add(e.job.Every)
	if !last.IsZero() {
		next = last.Add(e.job.Every)
		if next.Before(now.Add(r.opts.CatchUp)) {
			next = now.Add(r.opts.CatchUp)
		}
	}
	for {
		r.mu.Lock()
		e.status.Next = next
		r.mu.Unlock()
		t := r.opts.Clock.NewTimer(next.Sub(r.opts.Clock.Now()))
		select {
		case <-t.C():
		case <-r.ctx.Done():
			t.Stop()
			return
		}
		// ErrRunning: the previous run is still going; skip this tick.
		// A replica that does not lead skips it too: the leader runs it.
		if !r.leaderOnly(e) || r.leading() {
			_ = r.enqueue(e)
		}
		next = r.opts.Clock.Now().Add(e.job.Every)
	}
}

// Cancel cancels kind's queued or running run. It reports whether there
// was one.
func (r *Runner) Cancel(kind string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[kind]
	if !ok || e.cancel == nil {
		return false
	}
	e.cancel()
	return true
}

// Status returns kind's status. A family kind this process never ran is
// read from the store (the replica that ran it saved it there).
func (r *Runner) Status(kind string) (Status, bool) {
	r.mu.Lock()
	e, ok := r.entries[kind]
	r.mu.Unlock()
	if !ok {
		return r.storedStatus(kind)
	}
	return r.current(e, nil), true
}

// Statuses returns every kind's status, by kind. On a follower the
// leader's statuses come from one read of the shared store, however many
// kinds there are (a /metrics scrape calls this).
func (r *Runner) Statuses() []Status {
	r.mu.Lock()
	entries := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	var shared map[string]Status
	if r.opts.Leader != nil && !r.leading() {
		shared, _ = r.loadAllShared()
		if shared == nil {
			shared = map[string]Status{} // unreadable: each kind's own status
		}
	}
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		out = append(out, r.current(e, shared))
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Kind, b.Kind) })
	return out
}

// Wait blocks until kind has no queued or running run in this process (or
// ctx ends) and returns its status. On a process that does not lead, a
// leader-only kind runs elsewhere: Wait returns at once with the status in
// the shared store, and a caller follows it with Status.
func (r *Runner) Wait(ctx context.Context, kind string) (Status, error) {
	r.mu.Lock()
	e, ok := r.entries[kind]
	if !ok {
		r.mu.Unlock()
		return Status{}, ErrUnknownJob
	}
	idle := e.idle
	r.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	s, _ := r.Status(kind)
	return s, nil
}

// Stop refuses new runs, cancels the running ones (their context ends) and
// the queued ones, and waits for every goroutine the Runner started, or
// for ctx to end. It is idempotent.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	switch r.state {
	case runnerNew:
		close(r.exited)
	case runnerStarted:
		go func() {
			r.bg.Wait()
			r.pool.Wait()
			close(r.exited)
		}()
	}
	r.state = runnerStopped
	r.mu.Unlock()
	r.cancel()
	select {
	case <-r.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
