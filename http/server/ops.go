package server

import (
	"bytes"
	"errors"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// The operator endpoints.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
)

// ops serves the operator endpoints that answer without credentials ahead
// of next (the authentication middleware and the router), so a monitor
// never needs an account and bad credentials never fail a probe. /metrics
// is among them unless Options.MetricsRequireAuth (with auth on); then
// registerMetrics puts it on the router, behind authentication. /readyz
// fails once the server drains.
func (s *Server) ops(next fasthttp.RequestHandler, o Options) fasthttp.RequestHandler {
	ready := metrics.Readyz(func() error {
		if s.draining.Load() {
			return errDraining
		}
		if o.Ready != nil {
			return o.Ready()
		}
		return nil
	})
	var scrape fasthttp.RequestHandler
	if o.Metrics != nil && (!o.MetricsRequireAuth || o.Auth == nil) {
		scrape = o.Metrics.Serve
	}
	return func(ctx *fasthttp.RequestCtx) {
		if ctx.IsGet() || ctx.IsHead() {
			switch string(ctx.Path()) {
			case HealthzPath:
				metrics.Healthz(ctx)
				return
			case ReadyzPath:
				ready(ctx)
				return
			case MetricsPath:
				if scrape != nil {
					scrape(ctx)
					return
				}
			}
		}
		next(ctx)
	}
}

// errDraining is /readyz's reason once shutdown has begun.
var errDraining = errors.New("shutting down")

// registerMetrics puts /metrics behind authentication: the caller needs
// the admin action, like the admin API.
func registerMetrics(r *router.Router, a *auth.Auth, m *metrics.Metrics) {
	r.GET(MetricsPath, func(ctx *fasthttp.RequestCtx) {
		if err := a.Authorize(ctx, policy.Admin, ""); err != nil {
			distapi.WriteError(ctx, err)
			return
		}
		m.Serve(ctx)
	})
}

// routeName is the bounded route label of a request path, for metrics
// and the access log.
func routeName(path []byte) string {
	switch string(path) {
	case auth.TokenPath:
		return "token"
	case HealthzPath, ReadyzPath, MetricsPath:
		return "ops"
	}
	if bytes.HasPrefix(path, []byte(adminPrefix)) {
		return "admin"
	}
	if r := distapi.RouteName(string(path)); r != "" {
		return r
	}
	return "other"
}

// bytesIn is what the handler read of the request body (a chunked upload
// declares no length), else the declared size.
func bytesIn(ctx *fasthttp.RequestCtx) int64 {
	if n, ok := reqctx.BytesRead(ctx); ok {
		return n
	}
	return int64(max(ctx.Request.Header.ContentLength(), 0))
}

// bytesOut is the response body's size. A stream is never read to measure
// it: one of unknown length counts 0. HEAD responses carry no body.
func bytesOut(ctx *fasthttp.RequestCtx) int64 {
	if ctx.IsHead() {
		return 0
	}
	if ctx.Response.IsBodyStream() {
		return int64(max(ctx.Response.Header.ContentLength(), 0))
	}
	return int64(len(ctx.Response.Body()))
}
