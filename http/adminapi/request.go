package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// MaxBody bounds a request body: the API's documents are small. A body
// declared larger is refused before it is read (http/server).
const MaxBody = 1 << 20

// drainMax is how much of an oversized body is read before answering.
const drainMax = 4 << 20

// readJSON decodes the request body into v, refusing unknown fields and
// trailing data. An empty body leaves v as it is when emptyOK.
func readJSON(ctx *fasthttp.RequestCtx, v any, emptyOK bool) error {
	body, err := readBody(ctx)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return errcode.New(errcode.BadRequest, "a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errcode.New(errcode.BadRequest, "malformed JSON body: %v", err)
	}
	if dec.More() {
		return errcode.New(errcode.BadRequest, "malformed JSON body: data after the document")
	}
	return nil
}

// readBody reads the (streamed) request body, at most MaxBody bytes.
func readBody(ctx *fasthttp.RequestCtx) ([]byte, error) {
	r := reqctx.Body(ctx)
	b, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, errcode.New(errcode.BadRequest, "reading the body: %v", err)
	}
	if len(b) > MaxBody {
		// Read (and drop) a few more MiB, so that a client that is still
		// sending gets the 413 rather than a reset connection; past that
		// the connection is closed under it.
		_, _ = io.Copy(io.Discard, io.LimitReader(r, drainMax))
		return nil, errcode.New(errcode.TooLarge, "request body over %d bytes", MaxBody)
	}
	return b, nil
}

// writeJSON answers v with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// page reads the n and cursor query parameters.
func page(ctx *fasthttp.RequestCtx) (n int, cursor string, err error) {
	args := ctx.QueryArgs()
	n = adminsvc.DefaultPage
	if v := args.Peek("n"); len(v) > 0 {
		n, err = strconv.Atoi(string(v))
		if err != nil || n < 1 || n > adminsvc.MaxPage {
			return 0, "", errcode.New(errcode.BadRequest, "n must be an integer from 1 to %d", adminsvc.MaxPage)
		}
	}
	return n, string(args.Peek("cursor")), nil
}

// listIn is the handler of a plain listing within scope (a repository,
// or "" for all): list reads the page the query asks for (page), and that
// page is the answer.
func listIn[P any](scope string, list func(ctx context.Context, scope, cursor string, n int) (P, error)) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		n, cursor, err := page(ctx)
		if err != nil {
			return err
		}
		return answer(ctx)(list(reqctx.Context(ctx), scope, cursor, n))
	}
}

// answer writes v (200), or returns err: a route's tail call, as
// answer(ctx)(a.svc.Method(...)).
func answer(ctx *fasthttp.RequestCtx) func(v any, err error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return writeJSON(ctx, fasthttp.StatusOK, v)
	}
}

// noContent answers 204, or returns err: answer's counterpart for calls
// with nothing to say, as noContent(ctx, a.svc.Method(...)).
func noContent(ctx *fasthttp.RequestCtx, err error) error {
	if err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
