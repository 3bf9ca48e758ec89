// Package server assembles mcr's HTTP front end: a fasthttp server, the
// router, and the middleware every request passes through (request id,
// panic recovery, access log, the API version header, the early refusal
// of oversized bodies). It owns the listener's lifecycle; the endpoints
// live in sibling packages.
//
// Request contexts. Every request gets its own context.Context
// (http/reqctx) before any handler runs, and engine calls receive that,
// never the *fasthttp.RequestCtx: its Done follows the server (it closes
// when shutdown begins) and never the client. A request's context is
// cancelled when its client goes away (a read of the body fails, or the
// body makes no progress for Options.BodyIdleTimeout), at the hard end of
// shutdown (Shutdown's ctx has ended), and when its handler returns; it is
// not cancelled when shutdown begins. A request cut off for one of the
// first two reasons gets no response: its connection is closed.
//
// Shutdown. Drain turns /readyz to 503; Shutdown closes the listener, lets
// in-flight requests (streaming uploads included) finish until its ctx
// ends, then cancels the contexts of those still running and closes every
// connection, and waits a bounded moment for their handlers to return.
//
// Starting. The listener is bound before the stores open, and until the
// server takes it over (Starting.Handoff) it answers every request at
// once: /healthz 200, /readyz 503 "starting", anything else 503
// UNAVAILABLE with Retry-After (starting.go). One accept loop feeds both
// servers, so the socket is never closed in between.
//
// Refusing early. A declared Content-Length over its route's limit
// (manifests 4 MiB, the admin API's and the token endpoint's limits) is
// answered 413 before 100 Continue and before any body byte is read
// (refuse.go); uploads from one account or anonymous address are bounded
// by Options.UploadsPerCaller (429 with Retry-After past it).
package server
