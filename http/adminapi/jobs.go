package adminapi

import (
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) listJobs(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, a.svc.Jobs())
}

func (a *API) job(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.Job(ctx.UserValue("kind").(string)))
}

func (a *API) gcStatus(ctx *fasthttp.RequestCtx) error {
	return writeJSON(ctx, fasthttp.StatusOK, a.svc.GCStatus())
}

// gcRun starts a collection (or a dry run) and answers its status; it does
// not wait: GET /gc or /jobs/{kind} follows it.
func (a *API) gcRun(ctx *fasthttp.RequestCtx) error {
	var req apiv1.GCRequest
	if err := readJSON(ctx, &req, true); err != nil {
		return err
	}
	j, err := a.svc.RunGC(req.DryRun)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusAccepted, j)
}

// gcHistory is the gc_run events of the audit log: the runner keeps only
// the last run of each kind.
func (a *API) gcHistory(ctx *fasthttp.RequestCtx) error {
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	return answer(ctx)(a.svc.GCHistory(reqctx.Context(ctx), cursor, n))
}
