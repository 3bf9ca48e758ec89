package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load bounds one measured case: Conc workers in a closed loop, each
// starting a new operation as soon as its last one ends, until Duration
// has passed or MaxOps operations have started. At least one bound is set.
type Load struct {
	Conc     int
	Duration time.Duration
	MaxOps   int64
	// Warmup runs operations for this long before measuring; they are
	// checked like the others but neither timed nor counted.
	Warmup time.Duration
	// MaxErrors stops the case early once this many operations failed
	// (default 10): a broken registry should not take the full duration.
	MaxErrors int64
	// OpTimeout caps one operation (0: none). An operation past it is
	// not an error but counted in Outcome.TimedOut, and it ends the case:
	// a registry that needs longer for one request will not do better on
	// the next, and the run must go on.
	OpTimeout time.Duration
	// Meter, when set, adds the registry's CPU and resident set to the
	// Cost Run measures of the timed part (the load generator's CPU is
	// always measured).
	Meter Meter
}

// Outcome is what a case measured.
type Outcome struct {
	Ops     int64         // successful operations
	Errors  int64         // failed operations
	Samples []string      // the first few error messages
	Elapsed time.Duration // from the window's opening (the end of the warm-up, once a Probe has read its counters) to the last operation's end
	Lat     []time.Duration
	// TimedOut counts operations cut at Load.OpTimeout.
	TimedOut int64
	Cost     Cost // over the same window as Elapsed
}

// Rate is successful operations per second.
func (o Outcome) Rate() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Ops) / o.Elapsed.Seconds()
}

// Pct is the q-quantile (0..1) of the successful operations' latencies by
// nearest rank; 0 when there are none.
func (o Outcome) Pct(q float64) time.Duration { return Percentile(o.Lat, q) }

// Percentile of sorted latencies by nearest rank.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Op is one operation; worker is in [0, Conc), i counts operations started
// in this case (warm-up included) from 0.
type Op func(ctx context.Context, worker int, i int64) error

// Run drives op under load l and returns what it measured.
func Run(ctx context.Context, l Load, op Op) Outcome {
	if l.Conc <= 0 {
		l.Conc = 1
	}
	if l.Duration <= 0 && l.MaxOps <= 0 {
		l.MaxOps = 1 // never unbounded
	}
	if l.MaxErrors <= 0 {
		l.MaxErrors = 10
	}
	var (
		next     atomic.Int64
		errCount atomic.Int64
		timedOut atomic.Int64
		mu       sync.Mutex
		out      Outcome
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	measureFrom := time.Now().Add(l.Warmup)
	var stopAt time.Time
	if l.Duration > 0 {
		stopAt = measureFrom.Add(l.Duration)
	}
	meter := openAfter(l.Meter, time.Until(measureFrom))
	lats := make([][]time.Duration, l.Conc)
	oks := make([]int64, l.Conc)
	for w := range l.Conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				if !stopAt.IsZero() && start.After(stopAt) {
					return
				}
				i := next.Add(1) - 1
				if l.MaxOps > 0 && i >= l.MaxOps {
					return
				}
				err := capped(ctx, l.OpTimeout, func(ctx context.Context) error { return op(ctx, w, i) })
				end := time.Now()
				if errors.Is(err, errOverCap) {
					timedOut.Add(1)
					cancel()
					return
				}
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, context.Canceled) {
						return
					}
					mu.Lock()
					if len(out.Samples) < 5 {
						out.Samples = append(out.Samples, err.Error())
					}
					mu.Unlock()
					if errCount.Add(1) >= l.MaxErrors {
						cancel()
					}
					continue
				}
				if from, open := meter.openedAt(); !open || start.Before(from) {
					continue // warm-up, or the window was still opening
				}
				oks[w]++
				lats[w] = append(lats[w], end.Sub(start))
			}
		})
	}
	wg.Wait()
	out.Cost = meter.close()
	from, open := meter.openedAt()
	if !open {
		from = measureFrom
	}
	out.Elapsed = time.Since(from)
	out.Errors = errCount.Load()
	out.TimedOut = timedOut.Load()
	for w := range l.Conc {
		out.Ops += oks[w]
		out.Lat = append(out.Lat, lats[w]...)
	}
	slices.Sort(out.Lat)
	if out.Errors > 0 && len(out.Samples) == 0 {
		out.Samples = []string{fmt.Sprintf("%d errors", out.Errors)}
	}
	return out
}

// errOverCap is an operation cut at Load.OpTimeout.
var errOverCap = errors.New("operation over its time cap")

// capped runs f under timeout d (none when d is 0) and reports
// errOverCap when f failed because d ran out, rather than the case's own
// end.
func capped(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	if d <= 0 {
		return f(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() == context.DeadlineExceeded {
		return errOverCap
	}
	return err
}

func sortDurations(d []time.Duration) { slices.Sort(d) }
