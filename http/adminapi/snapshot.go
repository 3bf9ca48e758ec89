package adminapi

import (
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// createSnapshot writes a snapshot into a directory on the server
// (adminsvc.Service.CreateSnapshot says where).
func (a *API) createSnapshot(ctx *fasthttp.RequestCtx) error {
	var in apiv1.SnapshotRequest
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	out, err := a.svc.CreateSnapshot(a.changeContext(ctx), in.Dir)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusCreated, out)
}

// pprof serves the Go profiler under /api/v1/debug/pprof/, behind the
// admin action like every route here.
func (a *API) pprof(ctx *fasthttp.RequestCtx) error {
	// The handler matches /debug/pprof/...; the path is put back after it
	// so that the access log and metrics still see an admin route.
	path := string(ctx.Path())
	ctx.Request.URI().SetPath(strings.TrimPrefix(path, apiv1.Prefix))
	pprofhandler.PprofHandler(ctx)
	ctx.Request.URI().SetPath(path)
	return nil
}
