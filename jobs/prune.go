package jobs

import (
	"context"
	"time"
)

// StatusPruner is a StatusStore that can forget the saved statuses of a
// Family's finished runs (Family.Keep). A store without it keeps them.
type StatusPruner interface {
	// PruneStatuses deletes the saved status of every kind starting with
	// prefix whose last run finished (succeeded, failed or was cancelled)
	// before before, and returns how many it deleted. Each status is
	// checked in the transaction that deletes it, so a run requested
	// meanwhile keeps its record.
	PruneStatuses(ctx context.Context, prefix string, before time.Time) (int, error)
}

// pruneEvery is how often at most the Runner looks for family kinds to
// forget. It looks only when one of the two things that make family
// entries happens (a family kind is triggered, a family run ends), so an
// idle Runner does no work for it, and the entries of kinds nobody
// touches again stay at most until the next trigger or run.
const pruneEvery = time.Minute

// prune forgets the family kinds whose last run finished more than the
// family's Keep ago (and entries of kinds that never ran here): their
// entries in this process, and, where this
// process runs the family's kinds (it leads, or has no Leader), their
// saved statuses. A follower's entry of a kind it only asked the leader
// to run is kept as long as the leader's saved status is, which it reads
// in one look at the shared store. Runs at most once per pruneEvery.
func (r *Runner) prune() {
	now := r.opts.Clock.Now()
	r.mu.Lock()
	if r.state != runnerStarted || now.Before(r.nextPrune) {
		r.mu.Unlock()
		return
	}
	r.nextPrune = now.Add(pruneEvery)
	r.mu.Unlock()

	leads := r.leading()
	var shared map[string]Status
	if !leads {
		shared, _ = r.loadAllShared()
	}
	r.mu.Lock()
	for kind, e := range r.entries {
		f, ok := r.family(kind)
		if !ok || e.status.Active() {
			continue
		}
		st := e.status
		if r.leaderOnly(e) && !leads {
			if shared == nil {
				continue // the store could not be read: keep what we have
			}
			var saved bool
			if st, saved = shared[kind]; !saved {
				delete(r.entries, kind) // the leader forgot it already
				continue
			}
		}
		// An Idle entry has nothing to report (Status reads the store);
		// one a Trigger is about to enqueue is put back by enqueue.
		if st.State == Idle || st.EndedBefore(now.Add(-f.keep())) {
			delete(r.entries, kind)
		}
	}
	r.mu.Unlock()

	pruner, ok := r.opts.Store.(StatusPruner)
	if !ok {
		return
	}
	for _, f := range r.families {
		if !f.Local && !leads {
			continue // the leader prunes what it runs
		}
		ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
		_, err := pruner.PruneStatuses(ctx, f.Prefix, now.Add(-f.keep()))
		cancel()
		if err != nil && r.opts.OnError != nil {
			r.opts.OnError(f.Prefix, err)
		}
	}
}
