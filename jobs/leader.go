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
// store (its progress is saved at most a second apart).
func (r *Runner) current(e *entry) Status {
	r.mu.Lock()
	s := e.status
	r.mu.Unlock()
	if !r.leaderOnly(e) || r.leading() {
		return s
	}
	ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
	defer cancel()
	if st, ok, err := r.opts.Store.LoadStatus(ctx, e.job.Kind); err == nil && ok {
		st.Kind, st.Next = e.job.Kind, time.Time{}
		return st
	}
	return s
}

// follow tracks leadership until Stop: on election it takes over the
// leader-only kinds (elected); while leading it runs what other replicas
// requested; on losing the lead it cancels its leader-only runs, whose
// fenced transactions would fail anyway.
func (r *Runner) follow(entries []*entry) {
	var mine []*entry
	for _, e := range entries {
		if r.leaderOnly(e) {
			mine = append(mine, e)
		}
	}
	was := false
	t := r.opts.Clock.NewTimer(0)
	defer t.Stop()
	for {
		lead, changed := r.opts.Leader.Leading()
		switch {
		case lead && !was:
			r.elected(mine)
		case lead:
			r.requested(mine)
		default:
			// Also when it never led as far as this loop saw: a trigger
			// may have started a run before the first look.
			for _, e := range mine {
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
func (r *Runner) elected(mine []*entry) {
	for _, e := range mine {
		st, ok, err := r.loadShared(e)
		if err != nil || !ok {
			continue
		}
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
			_ = r.enqueue(e, e.job.Run, e.job.Timeout)
		}
	}
}

// requested starts the runs other replicas asked for (status Queued in
// the shared store, not active here).
func (r *Runner) requested(mine []*entry) {
	for _, e := range mine {
		r.mu.Lock()
		active := e.status.Active()
		r.mu.Unlock()
		if active {
			continue
		}
		if st, ok, err := r.loadShared(e); err == nil && ok && st.State == Queued {
			_ = r.enqueue(e, e.job.Run, e.job.Timeout)
		}
	}
}

func (r *Runner) loadShared(e *entry) (Status, bool, error) {
	ctx, cancel := context.WithTimeout(r.ctx, storeTimeout)
	defer cancel()
	st, ok, err := r.opts.Store.LoadStatus(ctx, e.job.Kind)
	if err != nil && r.opts.OnError != nil {
		r.opts.OnError(e.job.Kind, err)
	}
	st.Kind = e.job.Kind
	return st, ok, err
}
