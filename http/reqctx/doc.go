// Package reqctx gives every request served by mcr's HTTP front end a real
// context.Context and a watched body.
//
// The rule: a *fasthttp.RequestCtx is never handed on as a
// context.Context. It implements the interface, but its Done follows the
// server, not the request: it closes when shutdown begins (so an upload in
// flight on SIGTERM would fail with "context canceled") and never when the
// client goes away. Handlers pass Context(ctx) to the engine instead, a
// context that is cancelled
//
//   - when the client goes away: a read of its request body fails, or the
//     body makes no progress for the idle timeout (ErrClientGone, ErrIdle);
//   - at the hard end of shutdown, when the server gives up waiting for
//     in-flight requests and closes their connections (ErrShutdown);
//   - when the handler returns.
//
// It is never cancelled when shutdown merely begins: a request that began
// before SIGTERM runs to completion within the shutdown timeout. Responses
// are written by fasthttp after the handler returned, when no engine call is
// in flight, so a failed write has nothing left to cancel.
//
// A wait that is no work of its own, a long poll, uses Waiting instead: it
// also ends when shutdown begins, so that it answers at once rather than
// holding the shutdown until its timeout. A request refused without reading
// its body (413, 429) has its connection closed after the answer with
// CloseUnread.
//
// A request that was cut off (Cut) gets no response: the server closes its
// connection, since the client has gone, stalled, or is being shut out.
// TestNoRequestCtxAsContext enforces the rule over every package under
// http/.
//
// A body of 4 MiB or more is read with a receive low-water mark on its
// socket (lowat.go), never above what the client has still to send, and
// back at the kernel's default when the handler returns.
package reqctx
