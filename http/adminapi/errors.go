package adminapi

import (
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
)

// writeError writes err as the API's error JSON. Errors that are not
// engine errors are internal: their text goes to the log, not to the
// client.
func (a *API) writeError(ctx *fasthttp.RequestCtx, err error) {
	WriteError(ctx, err)
	if errcode.KindOf(err) == errcode.Internal {
		a.d.Log.Error().Err(err).Bytes("path", ctx.Path()).Msg("admin API internal error")
	}
}

// WriteError writes err as the API's error JSON with the code and status
// its kind is registered with for the admin API (engine/errcode): codes
// for an operator, so a bad name is INVALID (422), not NAME_INVALID. The
// server uses it for requests under /api/v1 that no route takes and for
// authentication failures there.
func WriteError(ctx *fasthttp.RequestCtx, err error) {
	kind, msg, detail := errcode.Public(err)
	a := kind.Describe().Admin
	b, _ := json.Marshal(apiv1.Error{Error: apiv1.ErrorBody{Code: a.Code, Message: msg, Detail: detailOf(detail)}})
	distapi.WriteErrorBody(ctx, a.Status, b, err)
}

func detailOf(d any) map[string]string {
	switch v := d.(type) {
	case map[string]string:
		return v
	case nil:
		return nil
	}
	return map[string]string{"detail": fmt.Sprint(d)}
}

// NotFound answers a path under /api/v1 that no route takes.
func NotFound(ctx *fasthttp.RequestCtx) {
	WriteError(ctx, errcode.New(errcode.NotFound, "no such endpoint %s", ctx.Path()))
}

// MethodNotAllowed answers a route asked with a method it does not take.
func MethodNotAllowed(ctx *fasthttp.RequestCtx) {
	WriteError(ctx, errcode.New(errcode.Unsupported, "method %s not allowed on %s", ctx.Method(), ctx.Path()))
}
