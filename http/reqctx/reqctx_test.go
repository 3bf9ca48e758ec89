package reqctx

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/valyala/fasthttp"
)

func request(body string, declared int) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetBodyString(body)
	req.Header.SetContentLength(declared)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

// A body whose connection ends before its declared length is a client
// that went away: the read fails and the request is cut off.
func TestShortBodyIsClientGone(t *testing.T) {
	ctx := request("0123456789", 100)
	end := Begin(ctx, context.Background(), context.Background(), 0)
	b, err := io.ReadAll(Body(ctx))
	if len(b) != 10 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %d bytes, %v; want 10 and ErrUnexpectedEOF", len(b), err)
	}
	if !errors.Is(Cut(ctx), ErrClientGone) || Context(ctx).Err() == nil {
		t.Errorf("Cut %v, context %v; want ErrClientGone and cancelled", Cut(ctx), Context(ctx).Err())
	}
	if n, ok := BytesRead(ctx); n != 10 || !ok {
		t.Errorf("BytesRead %d %v", n, ok)
	}
	end()
}

// A whole body is no cut, and neither is the end of the handler, though it
// cancels the context.
func TestEndIsNoCut(t *testing.T) {
	ctx := request("0123456789", 10)
	end := Begin(ctx, context.Background(), context.Background(), 0)
	if b, err := io.ReadAll(Body(ctx)); len(b) != 10 || err != nil {
		t.Fatalf("read %d, %v", len(b), err)
	}
	c := Context(ctx)
	end()
	if c.Err() == nil || Cut(ctx) != nil {
		t.Errorf("after end: context %v, Cut %v; want cancelled and no cut", c.Err(), Cut(ctx))
	}
}

// The server's hard end cancels every request's context with its cause;
// the beginning of shutdown ends only Waiting contexts.
func TestShutdownCauses(t *testing.T) {
	base, cancelBase := context.WithCancelCause(context.Background())
	stopping, stop := context.WithCancel(context.Background())
	ctx := request("", 0)
	end := Begin(ctx, base, stopping, 0)
	defer end()
	w, release := Waiting(ctx)
	defer release()
	stop()
	<-w.Done()
	if Context(ctx).Err() != nil {
		t.Fatal("the request's context ended when shutdown began")
	}
	cancelBase(ErrShutdown)
	if !errors.Is(Cut(ctx), ErrShutdown) {
		t.Errorf("Cut %v, want ErrShutdown", Cut(ctx))
	}
}

// Outside the server there is no connection to watch.
func TestWithoutBegin(t *testing.T) {
	ctx := request("abc", 3)
	if Context(ctx) != context.Background() || Cut(ctx) != nil {
		t.Error("a request without Begin has a context of its own")
	}
	if b, _ := io.ReadAll(Body(ctx)); string(b) != "abc" {
		t.Errorf("body %q", b)
	}
}
