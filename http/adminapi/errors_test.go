package adminapi

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// apiCodes are the codes apiv1 declares for clients (mcrctl maps them to
// exit statuses): the registry's admin codes must be among them.
var apiCodes = []string{
	apiv1.CodeBadRequest, apiv1.CodeUnauthorized, apiv1.CodeDenied, apiv1.CodeNotFound,
	apiv1.CodeMethodNotAllowed, apiv1.CodeConflict, apiv1.CodeTooLarge, apiv1.CodeInvalid,
	apiv1.CodeTooManyRequests, apiv1.CodeUnavailable, apiv1.CodeInternal, apiv1.CodeInsufficientStorage,
}

// Every kind is written with its registered admin code and status, a
// code apiv1 declares, and its message (an internal error's stays in the
// log).
func TestWriteErrorEveryKind(t *testing.T) {
	for _, k := range errcode.Kinds() {
		a := k.Describe().Admin
		if !slices.Contains(apiCodes, a.Code) {
			t.Errorf("%s: admin code %q is not an apiv1 code", k, a.Code)
		}
		var ctx fasthttp.RequestCtx
		WriteError(&ctx, errcode.New(k, "boom"))
		var e apiv1.Error
		if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil || e.Error.Code != a.Code || ctx.Response.StatusCode() != a.Status {
			t.Errorf("%s wrote %d %s", k, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		if want := map[bool]string{true: "internal error", false: "boom"}[k == errcode.Internal]; e.Error.Message != want {
			t.Errorf("%s: message %q, want %q", k, e.Error.Message, want)
		}
	}
}
