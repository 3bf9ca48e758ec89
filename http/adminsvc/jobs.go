package adminsvc

import (
	"context"
	"encoding/json"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// job is the API's view of a job kind. While a run is queued or running,
// the last run's end, result and error are left out (and, while queued,
// its start and progress): they belong to an earlier run, and a client
// following this one would take them for its outcome.
func job(s jobs.Status) apiv1.Job {
	j := apiv1.Job{
		Kind: s.Kind, State: string(s.State), Done: s.Done, Total: s.Total, Note: s.Note, Runs: s.Runs, Error: s.LastError,
		Started: timeOrNil(s.Started), Finished: timeOrNil(s.Finished), Next: timeOrNil(s.Next),
	}
	if s.Active() {
		j.Error, j.Finished = "", nil
		if s.State == jobs.Queued {
			j.Started, j.Done, j.Total, j.Note = nil, 0, 0, ""
		}
		return j
	}
	switch {
	case s.LastResult == "":
	case json.Valid([]byte(s.LastResult)):
		j.Result = json.RawMessage(s.LastResult)
	default:
		j.Result, _ = json.Marshal(s.LastResult)
	}
	return j
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// docs turns the engine's values into their apiv1 documents, one by one.
func docs[T, D any](xs []T, doc func(T) D) []D {
	out := make([]D, len(xs))
	for i, x := range xs {
		out[i] = doc(x)
	}
	return out
}

func jobList(ss []jobs.Status) []apiv1.Job { return docs(ss, job) }

// Jobs lists every job the runner knows.
func (s *Service) Jobs() apiv1.JobList {
	return apiv1.JobList{Jobs: jobList(s.d.Jobs.Statuses())}
}

// Job is the status of one job kind.
func (s *Service) Job(kind string) (apiv1.Job, error) {
	st, ok := s.d.Jobs.Status(kind)
	if !ok {
		return apiv1.Job{}, errcode.New(errcode.NotFound, "no job %s", kind)
	}
	return job(st), nil
}

// jobStatus is the status of a registered kind; a kind never run is idle.
func (s *Service) jobStatus(kind string) apiv1.Job {
	st, ok := s.d.Jobs.Status(kind)
	if !ok {
		st = jobs.Status{Kind: kind, State: jobs.Idle}
	}
	return job(st)
}

// GCStatus is the state of the collection, its dry run and the upload
// expiry, with their progress while they run.
func (s *Service) GCStatus() apiv1.GCStatus {
	return apiv1.GCStatus{
		GC: s.jobStatus(gc.JobCollect), DryRun: s.jobStatus(gc.JobDryRun), Uploads: s.jobStatus(gc.JobUploads),
	}
}

// RunGC starts a collection (or a dry run) and returns its status; it does
// not wait for it.
func (s *Service) RunGC(dryRun bool) (apiv1.Job, error) {
	kind := gc.JobCollect
	if dryRun {
		kind = gc.JobDryRun
	}
	if err := s.d.Jobs.Trigger(kind); err != nil {
		return apiv1.Job{}, err // jobs.ErrRunning is 409, ErrBusy 429
	}
	return s.jobStatus(kind), nil
}

// GCHistory pages through the gc_run events of the audit log: the runner
// keeps only the last run of each kind.
func (s *Service) GCHistory(ctx context.Context, cursor string, n int) (apiv1.EventPage, error) {
	return s.QueryAudit(ctx, audit.Filter{Kinds: []audit.Kind{audit.GCRun}}, cursor, n)
}
