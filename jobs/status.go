package jobs

import (
	"context"
	"time"
)

// State is where a job kind is in its life.
type State string

// The states. A kind is Idle until its first run; afterwards it shows how
// the last run ended until the next one is queued.
const (
	Idle      State = "idle"
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	// Interrupted: the process stopped while the run was queued or running
	// (found at Start).
	Interrupted State = "interrupted"
)

// Status is what is known about a job kind: the current or last run.
type Status struct {
	Kind     string
	State    State
	Started  time.Time // of the current or last run; zero before the first
	Finished time.Time // of the last finished run; zero while one runs
	// Progress of the current run (or where the last one stopped), as the
	// job reports it: Done of Total units, and a short note (a phase name).
	Done, Total int64
	Note        string
	// LastResult is what the last successful run returned (job-defined;
	// garbage collection stores its report as JSON). LastError is the
	// error of the last run, "" when it succeeded.
	LastResult string
	LastError  string
	Runs       int64     // runs finished, whatever their outcome
	Next       time.Time // next scheduled run; zero when none
}

// Active reports whether a run is queued or running.
func (s Status) Active() bool { return s.State == Queued || s.State == Running }

// EndedBefore reports whether the last run finished (succeeded, failed or
// was cancelled) before t, and will not run again on its own as an
// Interrupted one will.
func (s Status) EndedBefore(t time.Time) bool {
	switch s.State {
	case Succeeded, Failed, Cancelled:
		return !s.Finished.IsZero() && s.Finished.Before(t)
	}
	return false
}

// StatusStore persists job statuses so they survive restarts. The caller
// provides it (mcr keeps them in Badger under g/); a nil store keeps them in
// memory only. Save is called on every state change and, throttled, on
// progress; its errors are reported to Options.OnError and otherwise
// ignored: a job never fails because its status could not be written.
type StatusStore interface {
	LoadStatus(ctx context.Context, kind string) (Status, bool, error)
	SaveStatus(ctx context.Context, s Status) error
}

// Progress is handed to a running job to report how far it got.
type Progress struct {
	r *Runner
	e *entry
}

// Report records that the job has done done of total units (total 0 when
// unknown), in the phase named by note.
func (p *Progress) Report(done, total int64, note string) {
	if p == nil || p.r == nil {
		return
	}
	p.r.progress(p.e, done, total, note)
}
