package ui

import (
	"encoding/json"
	"path/filepath"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// registerAdmin adds the operator's pages. Each requires the action its
// admin API route requires: admin for status, GC, accounts, audit and
// snapshots, policy:manage for the policy.
func (u *UI) registerAdmin(r *router.Router) {
	p := Prefix
	r.GET(p+"/status", u.page(u.admin(u.status)))
	r.GET(p+"/gc", u.page(u.admin(u.gcPage)))
	r.GET(p+"/gc/status", u.page(u.admin(u.gcStatus)))
	r.POST(p+"/gc", u.form(u.admin(u.gcRun)))
	r.POST(p+"/snapshots", u.form(u.admin(u.createSnapshot)))
	r.GET(p+"/audit", u.page(u.admin(u.auditPage)))
	u.registerAccounts(r)
	u.registerPolicy(r)
}

// admin guards a page with the admin action.
func (u *UI) admin(h handler) handler {
	return func(ctx *fasthttp.RequestCtx, v *viewer) error {
		if err := v.require(policy.Admin, ""); err != nil {
			return err
		}
		return h(ctx, v)
	}
}

// statusData is the status page.
type statusData struct {
	Version       string
	Uptime        time.Duration
	Counts        engine.Counts
	MetadataBytes int64
	GC            jobs.Status
	GCReport      *gc.Report
	Snapshot      string // the directory of the snapshot just made
}

func (u *UI) status(ctx *fasthttp.RequestCtx, v *viewer) error {
	// Storage, not Counts: totalling every manifest and tag would make
	// the page as slow as the registry is large.
	c, err := u.d.Registry.Storage(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	d := statusData{Version: u.d.Version, Uptime: time.Since(u.d.Started).Round(time.Second), Counts: c,
		Snapshot: string(ctx.QueryArgs().Peek("snapshot"))}
	if u.d.MetadataBytes != nil {
		d.MetadataBytes = u.d.MetadataBytes()
	}
	d.GC, d.GCReport = u.gcJob()
	return u.render(ctx, fasthttp.StatusOK, "status", "Status", v, d)
}

// gcJob is the collection's status and the report of its last
// successful run.
func (u *UI) gcJob() (jobs.Status, *gc.Report) {
	st, ok := u.d.Jobs.Status(gc.JobCollect)
	if !ok {
		st = jobs.Status{Kind: gc.JobCollect, State: jobs.Idle}
	}
	var rep gc.Report
	if st.LastResult == "" || json.Unmarshal([]byte(st.LastResult), &rep) != nil {
		return st, nil
	}
	return st, &rep
}

func (u *UI) gcPage(ctx *fasthttp.RequestCtx, v *viewer) error {
	st, rep := u.gcJob()
	return u.render(ctx, fasthttp.StatusOK, "gc", "Garbage collection", v, statusData{GC: st, GCReport: rep})
}

// gcProgress is what the GC page's script polls.
type gcProgress struct {
	State    string `json:"state"`
	Active   bool   `json:"active"`
	Done     int64  `json:"done"`
	Total    int64  `json:"total"`
	Note     string `json:"note"`
	Runs     int64  `json:"runs"`
	Error    string `json:"error,omitempty"`
	Finished string `json:"finished,omitempty"`
}

// gcStatus answers the collection's progress as JSON, for the live
// progress on the GC page.
func (u *UI) gcStatus(ctx *fasthttp.RequestCtx, _ *viewer) error {
	st, _ := u.gcJob()
	out := gcProgress{State: string(st.State), Active: st.Active(), Done: st.Done, Total: st.Total, Note: st.Note, Runs: st.Runs, Error: st.LastError}
	if !st.Finished.IsZero() {
		out.Finished = when(st.Finished)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// gcRun starts a collection; the page it redirects to follows it.
func (u *UI) gcRun(ctx *fasthttp.RequestCtx, _ *viewer) error {
	// jobs.ErrRunning is 409, jobs.ErrBusy 429.
	if err := u.d.Jobs.Trigger(gc.JobCollect); err != nil {
		return err
	}
	// The run audits itself (gc_run) when it finishes.
	return redirect(ctx, Prefix+"/gc")
}

// createSnapshot writes a snapshot into a new directory under the
// snapshot directory, named by the time: the UI takes no path from the
// browser.
func (u *UI) createSnapshot(ctx *fasthttp.RequestCtx, v *viewer) error {
	if u.d.Snapshot == nil {
		return errcode.New(errcode.Conflict, "snapshots are not managed here")
	}
	name := time.Now().UTC().Format("ui-20060102T150405.000000000Z")
	dir := filepath.Join(u.d.SnapshotDir, name)
	_, err := u.d.Snapshot(reqctx.Context(ctx), dir)
	if err != nil {
		return err
	}
	u.record(ctx, v, audit.Snapshot, "snapshot", "", "", "snapshot to "+dir+" (web UI)")
	return redirect(ctx, Prefix+"/status?snapshot="+name)
}
