package distapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Every kind is written with its registered OCI code and status, and its
// message (an internal error's stays in the log).
func TestWriteErrorEveryKind(t *testing.T) {
	for _, k := range errcode.Kinds() {
		var ctx fasthttp.RequestCtx
		WriteError(&ctx, errcode.New(k, "boom"))
		var body errorBody
		if err := json.Unmarshal(ctx.Response.Body(), &body); err != nil || len(body.Errors) != 1 {
			t.Fatalf("%s: body %s", k, ctx.Response.Body())
		}
		a := k.Describe().OCI
		want := "boom"
		if k == errcode.Internal {
			want = "internal error"
		}
		if got := body.Errors[0]; ctx.Response.StatusCode() != a.Status || got.Code != a.Code || got.Message != want {
			t.Errorf("%s: wrote %d %+v, want %d %s %q", k, ctx.Response.StatusCode(), got, a.Status, a.Code, want)
		}
	}
}

// An unavailable store is a 503 that says when to come back.
func TestWriteErrorUnavailable(t *testing.T) {
	var ctx fasthttp.RequestCtx
	WriteError(&ctx, errcode.New(errcode.Unavailable, "the blob store is unavailable"))
	if ctx.Response.StatusCode() != fasthttp.StatusServiceUnavailable || string(ctx.Response.Header.Peek("Retry-After")) != retryAfterUnavailable {
		t.Errorf("status %d, Retry-After %q", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Retry-After"))
	}
}

// A full disk is 507 with a code and message that say so, and is not an
// internal error for the access log.
func TestWriteErrorInsufficientStorage(t *testing.T) {
	var ctx fasthttp.RequestCtx
	WriteError(&ctx, errcode.New(errcode.InsufficientStorage, "storage below its floor").WithDetail(map[string]string{"path": "data"}))
	if ctx.Response.StatusCode() != fasthttp.StatusInsufficientStorage {
		t.Errorf("status %d, want 507", ctx.Response.StatusCode())
	}
	want := `{"errors":[{"code":"INSUFFICIENT_STORAGE","message":"storage below its floor","detail":{"path":"data"}}]}`
	if string(ctx.Response.Body()) != want {
		t.Errorf("body %s, want %s", ctx.Response.Body(), want)
	}
	if InternalError(&ctx) != nil {
		t.Error("a full disk was kept as an internal error")
	}
}

func TestWriteError(t *testing.T) {
	var ctx fasthttp.RequestCtx
	WriteError(&ctx, errcode.New(errcode.ManifestBlobUnknown, "blob unknown").WithDetail(map[string]string{"digest": "sha256:x"}))
	if ctx.Response.StatusCode() != 400 {
		t.Errorf("status %d", ctx.Response.StatusCode())
	}
	var body errorBody
	if err := json.Unmarshal(ctx.Response.Body(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Errors) != 1 || body.Errors[0].Code != "MANIFEST_BLOB_UNKNOWN" || body.Errors[0].Message != "blob unknown" {
		t.Errorf("body %s", ctx.Response.Body())
	}

	var ictx fasthttp.RequestCtx
	WriteError(&ictx, errors.New("disk on fire at /secret/path"))
	if ictx.Response.StatusCode() != 500 || string(ictx.Response.Body()) != `{"errors":[{"code":"INTERNAL_ERROR","message":"internal error"}]}` {
		t.Errorf("internal error leaked or mis-mapped: %d %s", ictx.Response.StatusCode(), ictx.Response.Body())
	}
	if InternalError(&ictx) == nil {
		t.Error("internal error not kept for the access log")
	}
}
