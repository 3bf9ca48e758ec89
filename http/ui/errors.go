package ui

import (
	"errors"
	"net/url"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// status is the one mapping from engine error kinds to the UI's HTTP
// statuses; TestEveryKindHasStatus keeps it complete.
var status = map[errcode.Kind]int{
	errcode.Internal:            fasthttp.StatusInternalServerError,
	errcode.BlobUnknown:         fasthttp.StatusNotFound,
	errcode.BlobUploadInvalid:   fasthttp.StatusBadRequest,
	errcode.BlobUploadUnknown:   fasthttp.StatusNotFound,
	errcode.DigestInvalid:       fasthttp.StatusBadRequest,
	errcode.ManifestBlobUnknown: fasthttp.StatusBadRequest,
	errcode.ManifestInvalid:     fasthttp.StatusBadRequest,
	errcode.ManifestUnknown:     fasthttp.StatusNotFound,
	errcode.NameInvalid:         fasthttp.StatusBadRequest,
	errcode.NameUnknown:         fasthttp.StatusNotFound,
	errcode.SizeInvalid:         fasthttp.StatusBadRequest,
	errcode.Unsupported:         fasthttp.StatusMethodNotAllowed,
	errcode.RangeInvalid:        fasthttp.StatusBadRequest,
	errcode.TooLarge:            fasthttp.StatusRequestEntityTooLarge,
	errcode.PaginationInvalid:   fasthttp.StatusBadRequest,
	errcode.Busy:                fasthttp.StatusTooManyRequests,
	errcode.Unauthorized:        fasthttp.StatusUnauthorized,
	errcode.Denied:              fasthttp.StatusForbidden,
	errcode.TooManyRequests:     fasthttp.StatusTooManyRequests,
	errcode.EndpointUnknown:     fasthttp.StatusNotFound,
	errcode.Invalid:             fasthttp.StatusBadRequest,
	errcode.NotFound:            fasthttp.StatusNotFound,
	errcode.Conflict:            fasthttp.StatusConflict,
	errcode.InsufficientStorage: fasthttp.StatusInsufficientStorage,
	errcode.Unavailable:         fasthttp.StatusServiceUnavailable,
}

// errorData is the error page.
type errorData struct {
	Status  int
	Message string
}

// fail answers err: an anonymous viewer asked to sign in is sent to the
// form (and back here afterwards); anything else is an error page with
// the kind's status. An internal error's text stays in the log.
func (u *UI) fail(ctx *fasthttp.RequestCtx, v *viewer, err error) {
	kind := errcode.KindOf(err)
	if kind == errcode.Unauthorized && (v == nil || !v.SignedIn()) && ctx.IsGet() {
		_ = redirect(ctx, Prefix+"/login?next="+url.QueryEscape(string(ctx.RequestURI())))
		return
	}
	code, ok := status[kind]
	if !ok {
		code = fasthttp.StatusInternalServerError
	}
	msg := "internal error"
	var e *errcode.Error
	if kind == errcode.Internal {
		u.d.Log.Error().Err(err).Bytes("path", ctx.Path()).Msg("ui page failed")
	} else if errors.As(err, &e) {
		msg = e.Message
	} else {
		msg = err.Error()
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
