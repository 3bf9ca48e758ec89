package scenario

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunBoundsAndCounts(t *testing.T) {
	out := Run(context.Background(), Load{Conc: 4, MaxOps: 100}, func(context.Context, int, int64) error { return nil })
	if out.Ops != 100 || out.Errors != 0 || len(out.Lat) != 100 {
		t.Fatalf("ops %d errors %d lat %d; want 100, 0, 100", out.Ops, out.Errors, len(out.Lat))
	}
	start := time.Now()
	out = Run(context.Background(), Load{Conc: 2, Duration: 50 * time.Millisecond}, func(context.Context, int, int64) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if d := time.Since(start); d > time.Second || out.Ops == 0 {
		t.Fatalf("duration-bounded run took %s with %d ops", d, out.Ops)
	}
	out = Run(context.Background(), Load{Conc: 3, Duration: time.Minute, MaxErrors: 5}, func(context.Context, int, int64) error {
		return errors.New("boom")
	})
	if out.Errors < 5 || out.Ops != 0 || len(out.Samples) == 0 {
		t.Fatalf("error run: ops %d errors %d samples %v", out.Ops, out.Errors, out.Samples)
	}
}

func TestPercentile(t *testing.T) {
	var l []time.Duration
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i))
	}
	if Percentile(l, 0.5) != 50 || Percentile(l, 0.99) != 99 || Percentile(l, 1) != 100 || Percentile(nil, 0.5) != 0 {
		t.Fatalf("p50 %d p99 %d p100 %d", Percentile(l, 0.5), Percentile(l, 0.99), Percentile(l, 1))
	}
}

// An operation past Load.OpTimeout is counted as timed out, not as an
// error, and ends the case; operations under the cap are measured.
func TestRunOpTimeout(t *testing.T) {
	start := time.Now()
	out := Run(context.Background(), Load{Conc: 1, Duration: time.Minute, OpTimeout: 20 * time.Millisecond}, func(ctx context.Context, _ int, i int64) error {
		if i < 3 {
			return nil // fast: measured
		}
		<-ctx.Done() // the cap is the only way out
		return ctx.Err()
	})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a capped case took %s", d)
	}
	if out.TimedOut != 1 || out.Errors != 0 || out.Ops != 3 {
		t.Fatalf("timed out %d, errors %d, ops %d; want 1, 0, 3", out.TimedOut, out.Errors, out.Ops)
	}
	out = Run(context.Background(), Load{Conc: 1, MaxOps: 2, OpTimeout: time.Minute}, func(context.Context, int, int64) error { return errors.New("boom") })
	if out.TimedOut != 0 || out.Errors != 2 {
		t.Fatalf("plain errors under a cap: timed out %d, errors %d; want 0, 2", out.TimedOut, out.Errors)
	}
}

// probeMeter is a Meter with a Probe whose windows read fixed figures.
type probeMeter struct{ windows int }

func (*probeMeter) CPU() time.Duration       { return 0 }
func (*probeMeter) RSSMiB() (float64, error) { return 1, nil }
func (p *probeMeter) Window() func() []Reading {
	p.windows++
	return func() []Reading {
		return []Reading{{Name: "statements", Value: 300, PerOp: true}, {Name: "lock waits", Unit: "%", Value: 2.5}}
	}
}

// TestProbeReadings: a Meter's Probe is read over the timed window, and
// its readings are reported per operation or as they are.
func TestProbeReadings(t *testing.T) {
	m := &probeMeter{}
	o := Run(context.Background(), Load{Conc: 2, Duration: 50 * time.Millisecond, Meter: m}, func(context.Context, int, int64) error { return nil })
	r := &Result{Scenario: "s"}
	r.measured("c", "ops/s", o)
	got := map[string]float64{}
	for _, x := range r.Metrics {
		got[x.Key()] = x.Value
	}
	if m.windows != 1 || o.Ops == 0 || got["s c statements/op"] != 300/float64(o.Ops) || got["s c lock waits"] != 2.5 {
		t.Fatalf("%d windows, %d ops, metrics %v", m.windows, o.Ops, got)
	}
	var c Cost
	c.add(o.Cost)
	c.add(o.Cost)
	if len(c.Readings) != 2 || c.Readings[0].Value != 600 || c.Readings[1].Value != 2.5 {
		t.Fatalf("two windows added: %+v", c.Readings)
	}
}

// slowProbe's window takes until the 50th operation has finished to open.
type slowProbe struct {
	probeMeter
	reached chan struct{}
}

func (p *slowProbe) Window() func() []Reading {
	<-p.reached
	return p.probeMeter.Window()
}

// TestSlowProbeWindow: operations that started while a Probe was still
// taking its first readings are not counted in the window.
func TestSlowProbeWindow(t *testing.T) {
	p := &slowProbe{reached: make(chan struct{})}
	var done atomic.Int64
	o := Run(context.Background(), Load{Conc: 2, Warmup: time.Millisecond, Duration: 100 * time.Millisecond, Meter: p}, func(context.Context, int, int64) error {
		if done.Add(1) == 50 {
			close(p.reached)
		}
		return nil
	})
	if o.Ops == 0 || o.Ops > done.Load()-50 || p.windows != 1 {
		t.Fatalf("%d ops counted of %d done, %d windows; the 50 before the window opened must not count", o.Ops, done.Load(), p.windows)
	}
}
