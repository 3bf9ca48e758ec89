// Package distapi serves the OCI Distribution API (/v2/...) over fasthttp
// from an engine.Registry. Handlers parse and check the request, call the
// engine and write the success response; they return errors, and
// WriteError writes every failure with the OCI code and status its kind
// is registered with (engine/errcode, the one registry of error kinds).
//
// Nothing from a RequestCtx is kept after a handler returns: strings handed
// to the engine are copies, and request bodies are read to the end before
// the handler returns.
package distapi
