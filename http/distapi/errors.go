package distapi

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// wireError is how an engine error kind appears on the wire.
type wireError struct {
	code   string
	status int
}

// wire is the one table from engine error kinds to OCI error codes and HTTP
// statuses (distribution spec, "Error Codes"). TestEveryKindMapped keeps it
// complete.
var wire = map[errcode.Kind]wireError{
	errcode.Internal:            {"INTERNAL_ERROR", fasthttp.StatusInternalServerError},
	errcode.BlobUnknown:         {"BLOB_UNKNOWN", fasthttp.StatusNotFound},
	errcode.BlobUploadInvalid:   {"BLOB_UPLOAD_INVALID", fasthttp.StatusBadRequest},
	errcode.BlobUploadUnknown:   {"BLOB_UPLOAD_UNKNOWN", fasthttp.StatusNotFound},
	errcode.DigestInvalid:       {"DIGEST_INVALID", fasthttp.StatusBadRequest},
	errcode.ManifestBlobUnknown: {"MANIFEST_BLOB_UNKNOWN", fasthttp.StatusBadRequest},
	errcode.ManifestInvalid:     {"MANIFEST_INVALID", fasthttp.StatusBadRequest},
	errcode.ManifestUnknown:     {"MANIFEST_UNKNOWN", fasthttp.StatusNotFound},
	errcode.NameInvalid:         {"NAME_INVALID", fasthttp.StatusBadRequest},
	errcode.NameUnknown:         {"NAME_UNKNOWN", fasthttp.StatusNotFound},
	errcode.SizeInvalid:         {"SIZE_INVALID", fasthttp.StatusBadRequest},
	errcode.Unsupported:         {"UNSUPPORTED", fasthttp.StatusMethodNotAllowed},
	errcode.RangeInvalid:        {"BLOB_UPLOAD_INVALID", fasthttp.StatusRequestedRangeNotSatisfiable},
	errcode.TooLarge:            {"SIZE_INVALID", fasthttp.StatusRequestEntityTooLarge},
	errcode.PaginationInvalid:   {"PAGINATION_NUMBER_INVALID", fasthttp.StatusBadRequest},
	errcode.Busy:                {"TOOMANYREQUESTS", fasthttp.StatusTooManyRequests},
	errcode.Unauthorized:        {"UNAUTHORIZED", fasthttp.StatusUnauthorized},
	errcode.Denied:              {"DENIED", fasthttp.StatusForbidden},
	errcode.TooManyRequests:     {"TOOMANYREQUESTS", fasthttp.StatusTooManyRequests},
	errcode.EndpointUnknown:     {"NOT_FOUND", fasthttp.StatusNotFound},
	errcode.Invalid:             {"UNSUPPORTED", fasthttp.StatusBadRequest},
	errcode.NotFound:            {"NOT_FOUND", fasthttp.StatusNotFound},
	errcode.Conflict:            {"UNSUPPORTED", fasthttp.StatusConflict},
	errcode.Unavailable:         {"UNAVAILABLE", fasthttp.StatusServiceUnavailable},
	// The spec has no storage code (distribution answers a full disk with
	// 500 UNKNOWN): a code of our own, named after the status, tells the
	// client the registry is full rather than broken (docs/api.md).
	errcode.InsufficientStorage: {"INSUFFICIENT_STORAGE", fasthttp.StatusInsufficientStorage},
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// WriteError writes err as OCI error JSON with its status. It is the only
// place an error becomes a response; an error that is not an engine error
// is internal and its text stays in the log, not on the wire.
func WriteError(ctx *fasthttp.RequestCtx, err error) {
	kind := errcode.KindOf(err)
	w := wire[kind]
	entry := errorEntry{Code: w.code, Message: "internal error"}
	var e *errcode.Error
	if kind != errcode.Internal && errors.As(err, &e) {
		entry.Message, entry.Detail = e.Message, e.Detail
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{entry}})
	ctx.Response.ResetBody()
	ctx.SetStatusCode(w.status)
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
	if kind == errcode.Unavailable {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterUnavailable)
	}
	if kind == errcode.Internal {
		ctx.SetUserValue(internalErrorKey, err)
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
