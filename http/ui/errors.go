package ui

import (
	"net/url"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// errorData is the error page.
type errorData struct {
	Status  int
	Message string
}

// fail answers err: an anonymous viewer asked to sign in is sent to the
// form (and back here afterwards); anything else is an error page with
// the status the kind is registered with for /v2 (engine/errcode: the UI
// speaks plain HTTP, as /v2 does). An internal error's text stays in the
// log.
func (u *UI) fail(ctx *fasthttp.RequestCtx, v *viewer, err error) {
	kind, msg, _ := errcode.Public(err)
	if kind == errcode.Unauthorized && (v == nil || !v.SignedIn()) && ctx.IsGet() {
		_ = redirect(ctx, Prefix+"/login?next="+url.QueryEscape(string(ctx.RequestURI())))
		return
	}
	code := kind.Describe().OCI.Status
	if kind == errcode.Internal {
		u.d.Log.Error().Err(err).Bytes("path", ctx.Path()).Msg("ui page failed")
	}
	if v == nil {
		v = &viewer{u: u, may: map[string]bool{}}
	}
	ctx.Response.ResetBody()
	if rerr := u.render(ctx, code, "error", "Error", v, errorData{Status: code, Message: msg}); rerr != nil {
		u.d.Log.Error().Err(rerr).Msg("ui error page failed")
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
	}
}

// NotFound answers a path under /ui that is no page.
func (u *UI) NotFound(ctx *fasthttp.RequestCtx) {
	secure(ctx)
	if string(ctx.Path()) == Prefix {
		_ = redirect(ctx, Prefix+"/")
		return
	}
	v, _ := u.viewer(ctx)
	u.fail(ctx, v, errcode.New(errcode.NotFound, "no such page"))
}
