package server

import (
	"bytes"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// Refusing a body before reading it. fasthttp reads the first bytes of a
// request body, and answers "Expect: 100-continue" with 100 Continue,
// before any handler runs; a client that declared 10 GiB and stalls would
// hold the connection until http.read_timeout. So the decision is taken in
// Server.HeaderReceived, on the headers alone: a request whose declared
// Content-Length is over its route's limit has its length set to 0 and its
// Expect removed, so fasthttp reads nothing and sends no 100 Continue, and
// is marked with refusedHeader; the middleware answers it 413 and closes
// the connection.

// refusedHeader carries the refused declared length from HeaderReceived to
// the middleware. A client's own copy is removed first, so only the server
// sets it.
const refusedHeader = "X-Mcr-Refused-Length"

// bodyLimit is the largest body the route of uri takes, or -1 for no
// limit (blob uploads stream to disk).
func bodyLimit(uri []byte) int {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(nil, uri); err != nil {
		return prefetchLimit
	}
	path := u.Path()
	switch {
	case string(path) == auth.TokenPath:
		return auth.MaxTokenBody
	case bytes.HasPrefix(path, []byte(adminPrefix)):
		return adminapi.MaxBody
	}
	switch distapi.RouteName(string(path)) {
	case "upload":
		return -1
	case "manifest":
		return manifest.MaxSize
	}
	// No other endpoint reads a body.
	return prefetchLimit
}

// headerReceived runs after a request's headers are read and before any
// of its body is. Besides refusing, it bounds the wait for the body's
// first bytes, which fasthttp reads before the handler runs, by the body
// idle timeout; the middleware restores the request's read timeout once
// the handler runs (Server.bodyDeadline).
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if len(h.Peek(refusedHeader)) > 0 {
		h.Del(refusedHeader)
	}
	n := h.ContentLength()
	if n <= prefetchLimit {
		return s.bodyWait(n) // within every limit: the fast path
	}
	if limit := bodyLimit(h.RequestURI()); limit >= 0 && n > limit {
		h.Set(refusedHeader, strconv.Itoa(n))
		h.SetContentLength(0)
		h.Del(fasthttp.HeaderExpect)
		return fasthttp.RequestConfig{}
	}
	return s.bodyWait(n)
}

// bodyWait bounds the wait for the first bytes of a body of declared
// length n (-1: chunked) by the idle timeout.
func (s *Server) bodyWait(n int) fasthttp.RequestConfig {
	if s.idle > 0 && (n > 0 || n == -1) {
		return fasthttp.RequestConfig{ReadTimeout: s.idle}
	}
	return fasthttp.RequestConfig{}
}

// bodyDeadline gives a request with a body its whole read timeout again,
// after bodyWait shortened it for the first bytes; from here the body's
// idle timeout is reqctx's watch.
func (s *Server) bodyDeadline(ctx *fasthttp.RequestCtx) {
	n := ctx.Request.Header.ContentLength()
	if s.idle <= 0 || (n <= 0 && n != -1) {
		return
	}
	var deadline time.Time // none
	if s.srv.ReadTimeout > 0 {
		deadline = time.Now().Add(s.srv.ReadTimeout)
	}
	_ = ctx.Conn().SetReadDeadline(deadline)
}

// refused answers a request marked by headerReceived, if it is one: 413 in
// the route's error format, then the connection is closed.
func refused(ctx *fasthttp.RequestCtx) bool {
	declared := ctx.Request.Header.Peek(refusedHeader)
	if len(declared) == 0 {
		return false
	}
	limit := bodyLimit(ctx.Request.Header.RequestURI())
	err := errcode.New(errcode.TooLarge, "a body of %s bytes exceeds this endpoint's limit of %d bytes", declared, limit)
	if bytes.HasPrefix(ctx.Path(), []byte(adminPrefix)) {
		adminapi.WriteError(ctx, err)
	} else {
		distapi.WriteError(ctx, err)
	}
	reqctx.CloseUnread(ctx)
	return true
}
