package adminapi

import (
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
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

func jobList(ss []jobs.Status) []apiv1.Job {
	out := make([]apiv1.Job, len(ss))
	for i, s := range ss {
		out[i] = job(s)
	}
	return out
}

func (a *API) listJobs(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, apiv1.JobList{Jobs: jobList(a.d.Jobs.Statuses())})
}

func (a *API) job(ctx *fasthttp.RequestCtx) error {
	kind := ctx.UserValue("kind").(string)
	st, ok := a.d.Jobs.Status(kind)
	if !ok {
		return errcode.New(errcode.NotFound, "no job %s", kind)
	}
	return writeJSON(ctx, fasthttp.StatusOK, job(st))
}

// status of a registered kind; a kind never run is idle.
func (a *API) jobStatus(kind string) apiv1.Job {
	st, ok := a.d.Jobs.Status(kind)
	if !ok {
		st = jobs.Status{Kind: kind, State: jobs.Idle}
	}
	return job(st)
}

func (a *API) gcStatus(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, apiv1.GCStatus{
		GC: a.jobStatus(gc.JobCollect), DryRun: a.jobStatus(gc.JobDryRun), Uploads: a.jobStatus(gc.JobUploads),
	})
}

// gcRun starts a collection (or a dry run) and answers its status; it does
// not wait: GET /gc or /jobs/{kind} follows it.
func (a *API) gcRun(ctx *fasthttp.RequestCtx) error {
	var req apiv1.GCRequest
	if err := readJSON(ctx, &req, true); err != nil {
		return err
	}
	kind := gc.JobCollect
	if req.DryRun {
		kind = gc.JobDryRun
	}
	if err := a.d.Jobs.Trigger(kind); err != nil {
		return jobError(err, kind)
	}
	return writeJSON(ctx, fasthttp.StatusAccepted, a.jobStatus(kind))
}

// gcHistory is the gc_run events of the audit log: the runner keeps only
// the last run of each kind.
func (a *API) gcHistory(ctx *fasthttp.RequestCtx) error {
	if a.d.Journal == nil {
		return errNotManaged("audit events")
	}
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	p, err := a.d.Journal.Query(reqctx.Context(ctx), audit.Filter{Kinds: []audit.Kind{audit.GCRun}}, cursor, n)
	if err != nil {
		return auditError(err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, eventPage(p))
}
