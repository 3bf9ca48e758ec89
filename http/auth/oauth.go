package auth

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
)

// oauthError is the token endpoint's answer to a malformed request: the
// OAuth2 error response (RFC 6749 §5.2), which the token endpoint speaks
// for its POST form and which Docker's registry client reads on any
// failed token request, GET included (it shows error_description). The
// OCI error codes have none for a malformed token request: UNSUPPORTED
// means an operation the registry does not implement.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeTokenError writes err for the token endpoint: a malformed request
// (wrong service, unknown grant type, missing username) as 400
// invalid_request; anything else (401 with its challenge, 429, 413, 500) as
// the OCI error every other route answers.
func writeTokenError(ctx *fasthttp.RequestCtx, err error) {
	var e *errcode.Error
	if errcode.KindOf(err) != errcode.Invalid || !errors.As(err, &e) {
		distapi.WriteError(ctx, err)
		return
	}
	body, _ := json.Marshal(oauthError{Error: "invalid_request", Description: e.Message})
	ctx.Response.ResetBody()
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}
