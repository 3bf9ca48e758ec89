package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

type wireError struct {
	status int
	code   string
}

// wire is the one table from engine error kinds to the admin API's codes
// and statuses. TestEveryKindMapped keeps it complete. The distribution
// API maps the same kinds to OCI codes (http/distapi/errors.go); here the
// codes are the operator's: a bad name is INVALID (422), not NAME_INVALID.
var wire = map[errcode.Kind]wireError{
	errcode.Internal:            {fasthttp.StatusInternalServerError, apiv1.CodeInternal},
	errcode.BlobUnknown:         {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.BlobUploadInvalid:   {fasthttp.StatusBadRequest, apiv1.CodeBadRequest},
	errcode.BlobUploadUnknown:   {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.DigestInvalid:       {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.ManifestBlobUnknown: {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.ManifestInvalid:     {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.ManifestUnknown:     {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.NameInvalid:         {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.NameUnknown:         {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.SizeInvalid:         {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.Unsupported:         {fasthttp.StatusMethodNotAllowed, apiv1.CodeMethodNotAllowed},
	errcode.RangeInvalid:        {fasthttp.StatusBadRequest, apiv1.CodeBadRequest},
	errcode.TooLarge:            {fasthttp.StatusRequestEntityTooLarge, apiv1.CodeTooLarge},
	errcode.PaginationInvalid:   {fasthttp.StatusBadRequest, apiv1.CodeBadRequest},
	errcode.Busy:                {fasthttp.StatusTooManyRequests, apiv1.CodeTooManyRequests},
	errcode.Unauthorized:        {fasthttp.StatusUnauthorized, apiv1.CodeUnauthorized},
	errcode.Denied:              {fasthttp.StatusForbidden, apiv1.CodeDenied},
	errcode.TooManyRequests:     {fasthttp.StatusTooManyRequests, apiv1.CodeTooManyRequests},
	errcode.Unavailable:         {fasthttp.StatusServiceUnavailable, apiv1.CodeUnavailable},
	errcode.EndpointUnknown:     {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.Invalid:             {fasthttp.StatusUnprocessableEntity, apiv1.CodeInvalid},
	errcode.NotFound:            {fasthttp.StatusNotFound, apiv1.CodeNotFound},
	errcode.Conflict:            {fasthttp.StatusConflict, apiv1.CodeConflict},
	errcode.InsufficientStorage: {fasthttp.StatusInsufficientStorage, apiv1.CodeInsufficientStorage},
}

// badRequest is a request the API cannot parse: bad JSON, an unknown
// field, a malformed query parameter or cursor (400).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func errBadRequest(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// writeError writes err as the API's error JSON. Errors that are neither
// engine errors nor bad requests are internal: their text goes to the log,
// not to the client.
func (a *API) writeError(ctx *fasthttp.RequestCtx, err error) {
	WriteError(ctx, err)
	if ctx.Response.StatusCode() == fasthttp.StatusInternalServerError {
		a.d.Log.Error().Err(err).Bytes("path", ctx.Path()).Msg("admin API internal error")
	}
}

// WriteError writes err as the API's error JSON with its status. The
// server uses it for requests under /api/v1 that no route takes and for
// authentication failures there.
func WriteError(ctx *fasthttp.RequestCtx, err error) {
	body := apiv1.ErrorBody{Code: apiv1.CodeInternal, Message: "internal error"}
	status := fasthttp.StatusInternalServerError
	var br *badRequest
	var e *errcode.Error
	switch {
	case errors.As(err, &br):
		status, body.Code, body.Message = fasthttp.StatusBadRequest, apiv1.CodeBadRequest, br.msg
	case errors.As(err, &e) && e.Kind != errcode.Internal:
		w := wire[e.Kind]
		status, body.Code, body.Message = w.status, w.code, e.Message
		body.Detail = detailOf(e.Detail)
	}
	b, _ := json.Marshal(apiv1.Error{Error: body})
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	// The WWW-Authenticate challenge of a 401, the Retry-After of a 429.
	var hs interface {
		SetHeaders(*fasthttp.ResponseHeader)
	}
	if errors.As(err, &hs) {
		hs.SetHeaders(&ctx.Response.Header)
	}
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
