package scenario

import (
	"context"
	"errors"
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
