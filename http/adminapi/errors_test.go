package adminapi

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Every engine error kind has an answer, and only internal failures, a
// full disk (507) and an unavailable store (503) are 5xx: bad input never
// is.
func TestEveryKindMapped(t *testing.T) {
	for _, k := range errcode.Kinds() {
		w, ok := wire[k]
		if !ok {
			t.Errorf("kind %d is not mapped", k)
			continue
		}
		if (w.status >= 500) != (k == errcode.Internal || k == errcode.InsufficientStorage || k == errcode.Unavailable) {
			t.Errorf("kind %d answers %d", k, w.status)
		}
		var ctx fasthttp.RequestCtx
		WriteError(&ctx, errcode.New(k, "boom"))
		var e apiv1.Error
		if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil || e.Error.Code != w.code || ctx.Response.StatusCode() != w.status {
			t.Errorf("kind %d wrote %d %s", k, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		if k != errcode.Internal && e.Error.Message != "boom" {
			t.Errorf("kind %d lost its message: %+v", k, e)
		}
	}
	var ctx fasthttp.RequestCtx
	WriteError(&ctx, errBadRequest("bad %s", "cursor"))
	if ctx.Response.StatusCode() != 400 {
		t.Errorf("bad request answered %d", ctx.Response.StatusCode())
	}
}
