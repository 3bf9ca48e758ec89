package distapi

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// WriteError writes err as OCI error JSON (distribution spec, "Error
// Codes") with the code and status its kind is registered with
// (engine/errcode). It is the only place an error becomes a /v2
// response; an error that is not an engine error is internal and its
// text stays in the log, not on the wire.
func WriteError(ctx *fasthttp.RequestCtx, err error) {
	kind, msg, detail := errcode.Public(err)
	a := kind.Describe().OCI
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: a.Code, Message: msg, Detail: detail}}})
	WriteErrorBody(ctx, a.Status, body, err)
	if kind == errcode.Internal {
		ctx.SetUserValue(internalErrorKey, err)
	}
}

// WriteErrorBody writes an error answer: status, the JSON body, and the
// headers the error calls for. It is the tail every HTTP surface's error
// writer shares (the admin API writes its own body with it).
func WriteErrorBody(ctx *fasthttp.RequestCtx, status int, body []byte, err error) {
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
	// An error may carry response headers: the WWW-Authenticate challenge
	// of a 401, the Retry-After of a 429 (http/auth).
	var hs interface {
		SetHeaders(*fasthttp.ResponseHeader)
	}
	if errors.As(err, &hs) {
		hs.SetHeaders(&ctx.Response.Header)
	}
	if errcode.KindOf(err) == errcode.Unavailable {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterUnavailable)
	}
}

// internalErrorKey carries an internal error to the access log.
const internalErrorKey = "mcr.internal_error"

// InternalError returns the internal error a request ended with, if any,
// for the access log.
func InternalError(ctx *fasthttp.RequestCtx) error {
	err, _ := ctx.UserValue(internalErrorKey).(error)
	return err
}

// retryAfterUnavailable is the Retry-After, in seconds, of a 503: a store
// that went away is retried with backoff and usually back within seconds.
const retryAfterUnavailable = "5"
