package audit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Floodable reports whether e is an event anyone can make mcr record at
// the rate they send requests: a failed or rate-limited login (any name,
// any password), and an anonymous caller's token or policy denial (no
// credentials at all). Those are aggregated; everything an authenticated
// account does is recorded one event per action.
func Floodable(e Event) bool {
	switch e.Kind {
	case LoginFailed:
		return true
	case TokenIssued, Denied:
		return e.AccountID == ""
	}
	return false
}

// AggregatorOptions configures an Aggregator. Zero values take the
// defaults.
type AggregatorOptions struct {
	// Window is the span of one aggregate (default one minute): like
	// events of one window become one event with a count.
	Window time.Duration
	// MaxOpen bounds the aggregates open at once (default 1024), so a
	// flood from many addresses or names costs bounded memory: past it,
	// new sources are folded into one aggregate per kind and outcome
	// that names no caller.
	MaxOpen int
	// Tick is how often Start's loop closes the windows that ended
	// (default Window/6).
	Tick time.Duration
	// Now is the clock for events recorded without a time; nil is
	// time.Now.
	Now func() time.Time
}

func (o *AggregatorOptions) defaults() {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.MaxOpen <= 0 {
		o.MaxOpen = 1024
	}
	if o.Tick <= 0 {
		o.Tick = o.Window / 6
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Aggregator is a Recorder in front of another that turns floods into a
// bounded number of events: every Floodable event is counted per (kind,
// outcome, account name, address, action, repository, window) and one
// event with the count is passed on when the window closes (Flush);
// other events pass straight through.
//
// Nothing is written before the window closes, so a crash loses at most
// the counts of the open windows (one minute of failed logins), never an
// event already written: the aggregate is appended like any event, and the
// hash chain never sees a half-written one. Counting takes one small lock
// per aggregate; no lock is shared between sources.
type Aggregator struct {
	next Recorder
	o    AggregatorOptions

	open   sync.Map // aggKey → *aggregate
	n      atomic.Int64
	folded atomic.Uint64 // events counted into an aggregate instead of written
	closed atomic.Bool
	ran    atomic.Bool // Start was called

	stop, done chan struct{}
	once       sync.Once
}

var _ Recorder = (*Aggregator)(nil)

type aggKey struct {
	kind                                         Kind
	outcome, account, remote, action, repository string
	window                                       int64
}

type aggregate struct {
	mu     sync.Mutex
	first  Event
	count  uint64
	closed bool // flushed: a late Record starts a new aggregate
}

// NewAggregator returns an Aggregator passing events on to next. Start
// runs its window-closing loop; tests call Flush instead.
func NewAggregator(next Recorder, o AggregatorOptions) *Aggregator {
	o.defaults()
	return &Aggregator{next: next, o: o, stop: make(chan struct{}), done: make(chan struct{})}
}

// Record passes e on, or counts it into its aggregate when it is
// Floodable. It never blocks on I/O.
func (a *Aggregator) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = a.o.Now()
	}
	if !Floodable(e) {
		a.next.Record(ctx, e)
		return
	}
	k := aggKey{kind: e.Kind, outcome: e.Outcome, account: e.AccountName, remote: e.Remote, action: e.Action,
		repository: e.Repository, window: e.Time.UnixNano() / int64(a.o.Window)}
	for {
		if a.closed.Load() {
			a.next.Record(ctx, e)
			return
		}
		v, ok := a.open.Load(k)
		if !ok {
			if k.account != "*" && a.n.Load() >= int64(a.o.MaxOpen) {
				k = aggKey{kind: e.Kind, outcome: e.Outcome, account: "*", remote: "*", window: k.window}
				e = Event{Time: e.Time, Kind: e.Kind, Outcome: e.Outcome,
					Detail: fmt.Sprintf("from many accounts and addresses: more than %d sources in one window", a.o.MaxOpen)}
				continue
			}
			var loaded bool
			if v, loaded = a.open.LoadOrStore(k, &aggregate{first: e, count: 1}); !loaded {
				a.n.Add(1)
				return
			}
		}
		g := v.(*aggregate)
		g.mu.Lock()
		if !g.closed {
			g.count++
			if e.Time.Before(g.first.Time) {
				g.first.Time = e.Time // the aggregate says when it began
			}
			g.mu.Unlock()
			a.folded.Add(1)
			return
		}
		g.mu.Unlock()
		// Flushed under us, and already out of the map (flush removes it
		// holding g.mu): the next Load finds a fresh aggregate or none.
	}
}

// Flush closes every aggregate whose window ended by now and passes each
// on as one event carrying its count and the time of its first
// occurrence, oldest first.
func (a *Aggregator) Flush(ctx context.Context, now time.Time) {
	a.flush(ctx, func(k aggKey) bool { return (k.window+1)*int64(a.o.Window) <= now.UnixNano() })
}

func (a *Aggregator) flush(ctx context.Context, due func(aggKey) bool) {
	var out []Event
	a.open.Range(func(kv, v any) bool {
		k := kv.(aggKey)
		if !due(k) {
			return true
		}
		g := v.(*aggregate)
		g.mu.Lock()
		g.closed = true
		e := g.first
		e.Count = g.count
		if a.open.CompareAndDelete(k, g) {
			a.n.Add(-1)
		}
		g.mu.Unlock()
		out = append(out, e)
		return true
	})
	slices.SortFunc(out, func(x, y Event) int { return x.Time.Compare(y.Time) })
	for _, e := range out {
		a.next.Record(ctx, e)
	}
}

// Aggregated is how many events were counted into an aggregate instead of
// being written on their own.
func (a *Aggregator) Aggregated() uint64 { return a.folded.Load() }

// Start runs the loop that closes ended windows every Tick, until Close.
func (a *Aggregator) Start() {
	a.ran.Store(true)
	go func() {
		defer close(a.done)
		t := time.NewTicker(a.o.Tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				a.Flush(context.Background(), a.o.Now())
			case <-a.stop:
				return
			}
		}
	}()
}

// Close stops the loop (if Start ran it) and passes on every open
// aggregate, ended or not: a graceful stop loses no count. Events recorded
// afterwards pass straight through.
func (a *Aggregator) Close(ctx context.Context) {
	a.once.Do(func() {
		a.closed.Store(true)
		close(a.stop)
	})
	if a.ran.Load() {
		<-a.done
	}
	a.flush(ctx, func(aggKey) bool { return true })
}
