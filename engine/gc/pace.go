package gc

import (
	"context"
	"time"
)

// pacer keeps a collection from taking the CPU that pushes and pulls
// need: the run works at most a Duty share of the wall time and sleeps the
// rest. A collection's cost grows with the registry (the mark walks every
// repository and manifest, the sweep every blob record), and an online
// collection that ran flat out on a small machine would take that much
// from the requests every time it ran; paced, it takes longer instead.
type pacer struct {
	duty   float64 // 0 or >= 1: no pacing
	worked time.Duration
	since  time.Time
}

// pauseAfter is the work a pacer lets accumulate before it sleeps: long
// enough that the timer costs nothing, short enough that requests never
// wait behind a long burst.
const pauseAfter = 5 * time.Millisecond

func newPacer(duty float64) *pacer { return &pacer{duty: duty, since: time.Now()} }

// step is called between units of work (a repository, a batch of keys);
// it sleeps when enough work has accumulated. It returns ctx's error.
func (p *pacer) step(ctx context.Context) error {
	if p.duty <= 0 || p.duty >= 1 {
		return ctx.Err()
	}
	now := time.Now()
	p.worked += now.Sub(p.since)
	p.since = now
	if p.worked < pauseAfter {
		return ctx.Err()
	}
	rest := time.Duration(float64(p.worked) * (1 - p.duty) / p.duty)
	p.worked = 0
	t := time.NewTimer(rest)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	p.since = time.Now()
	return ctx.Err()
}
