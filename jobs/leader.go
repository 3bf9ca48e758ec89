package jobs

import (
	"context"
	"time"
)

// Leader says whether this process leads the replicas that share a store,
// and so runs the jobs that must run once (kv.Lease). The changed channel
// is closed when leading changes; leadership may also lapse without it
// (a lease not renewed in time), which the Runner notices at its next
// poll.
type Leader interface {
	Leading() (leading bool, changed <-chan struct{})
}

// SharedStatusStore is the StatusStore of replicas sharing one store,
// needed by a Runner with a Leader.
type SharedStatusStore interface {
	StatusStore
	// RequestRun records that a run of kind is wanted, for the leader to
	// pick up: kind's status becomes Queued, in one transaction that
	// first checks no run is queued or running (ErrRunning).
	RequestRun(ctx context.Context, kind string) error
	// SaveLeaderStatus saves a leader-only kind's status only while this
	// process still leads, checked in the store's transaction (fenced):
	// a deposed leader's last words never overwrite its successor's.
	SaveLeaderStatus(ctx context.Context, s Status) error
	// LoadStatuses reads every kind's saved status in one read, for a
	// follower's list of statuses and the leader's look for requests.
	LoadStatuses(ctx context.Context) ([]Status, error)
}

// leaderOnly reports whether e runs only on the leader.
func (r *Runner) leaderOnly(e *entry) bool { return r.opts.Leader != nil && !e.job.Local }

func (r *Runner) leading() bool {
	if r.opts.Leader == nil {
		return true
	}
	ok, _ := r.opts.Leader.Leading()
	return ok
}

// storeTimeout bounds a read or request of the shared status store made
// on behalf of a caller that has no context (Status, Trigger).
const storeTimeout = 5 * time.Second

// request asks the leader, through the shared store, to run e.
func (r *Runner) request(e *entry) error {
	r.mu.Lock()
	state := r.state
	r.mu.Unlock()
	if state != runnerStarted {
		return r.stateErr()
	}
	ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
	defer cancel()
	return r.opts.Store.(SharedStatusStore).RequestRun(ctx, e.job.Kind)
}

// current is e's status: this process's own, or for a leader-only kind on
// a process that does not lead, the leader's as last saved in the shared
// store (its progress is saved at most a second apart). shared, when not
// nil, is the store's statuses read once for several kinds.
func (r *Runner) current(e *entry, shared map[string]Status) Status {
	r.mu.Lock()
	s := e.status
	r.mu.Unlock()
	if !r.leaderOnly(e) || r.leading() {
		return s
	}
	st, ok := shared[e.job.Kind]
	if shared == nil {
		ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
		defer cancel()
		var err error
		st, ok, err = r.opts.Store.LoadStatus(ctx, e.job.Kind)
		ok = ok && err == nil
	}
	if !ok {
		return s
	}
	st.Kind, st.Next = e.job.Kind, time.Time{}
	return st
}

// loadAllShared reads every saved status in one read of the shared
// store, by kind.
func (r *Runner) loadAllShared() (map[string]Status, error) {
	ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
	defer cancel()
	sts, err := r.opts.Store.(SharedStatusStore).LoadStatuses(ctx)
	if err != nil {
		if r.opts.OnError != nil {
			r.opts.OnError("", err)
		}
		return nil, err
	}
	m := make(map[string]Status, len(sts))
	for _, st := range sts {
		m[st.Kind] = st
	}
	return m, nil
}

// mine is this process's leader-only entries, with an entry made for
// every family kind the shared store names (requested on another replica,
// or left by a previous leader), so that the leader can run it.
func (r *Runner) mine(shared map[string]Status) []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != runnerStarted {
		return nil
	}
	for kind, st := range shared {
		if st.Active() || st.State == Interrupted {
			r.lookupLocked(kind, true)
		}
	}
	var out []*entry
	for _, e := range r.entries {
		if r.leaderOnly(e) {
			out = append(out, e)
		}
	}
	return out
}

// follow tracks leadership until Stop: on election it takes over the
// leader-only kinds (elected); while leading it runs what other replicas
// requested; on losing the lead it cancels its leader-only runs, whose
// fenced transactions would fail anyway. Each look reads the shared
// statuses once.
func (r *Runner) follow() {
	was := false
	t := r.opts.Clock.NewTimer(0)
	defer t.Stop()
	for {
		lead, changed := r.opts.Leader.Leading()
		var shared map[string]Status
		if lead {
			shared, _ = r.loadAllShared()
		}
		switch {
		case lead && shared == nil:
			// The store could not be read: look again at the next poll,
			// still as a newcomer if this is the first look as leader.
			lead = was
		case lead && !was:
			r.elected(r.mine(shared), shared)
		case lead:
			r.requested(r.mine(shared), shared)
		default:
			// Also when it never led as far as this loop saw: a trigger
			// may have started a run before the first look.
			for _, e := range r.mine(nil) {
				r.depose(e)
			}
		}
		was = lead
		t.Stop()
		t = r.opts.Clock.NewTimer(r.opts.Poll)
		select {
		case <-changed:
		case <-t.C():
		case <-r.ctx.Done():
			return
		}
	}
}

// depose cancels e's active run because this process no longer leads.
func (r *Runner) depose(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.cancel != nil {
		e.deposed = true
		e.cancel()
	}
}

// elected adopts each leader-only kind's status from the shared store. A
// run the previous leader left running was cut short (it died, or lost
// the lease): it is marked Interrupted and run again, so the work is
// finished; a requested (Queued) run is started.
func (r *Runner) elected(mine []*entry, shared map[string]Status) {
	for _, e := range mine {
		st, ok := shared[e.job.Kind]
		if !ok {
			continue
		}
		st.Kind = e.job.Kind
		r.mu.Lock()
		active := e.status.Active()
		rerun := !active && (st.Active() || st.State == Interrupted)
		if !active {
			st.Next = e.status.Next
			switch st.State {
			case Running:
				st.State = Interrupted
				st.LastError = "interrupted: the leader stopped during the run"
			case Queued:
				st.State = Idle // enqueue below makes it Queued again, here
			}
			e.status = st
		}
		r.mu.Unlock()
		if rerun {
			_ = r.enqueue(e)
		}
	}
}

// requested starts the runs other replicas asked for (status Queued in
// the shared store, not active here).
func (r *Runner) requested(mine []*entry, shared map[string]Status) {
	for _, e := range mine {
		r.mu.Lock()
		active := e.status.Active()
		r.mu.Unlock()
		if st, ok := shared[e.job.Kind]; !active && ok && st.State == Queued {
			_ = r.enqueue(e)
		}
	}
}
