package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
	"git.wntrmute.dev/kyle/mcr/http/ui"
)

// Options tunes the HTTP server.
type Options struct {
	// ReadTimeout bounds reading one request, body included; uploads of
	// large blobs need it generous.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response; large blob pulls need it
	// generous.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// Concurrency caps simultaneous connections being served.
	Concurrency int
	// MaxHeaderBytes bounds a request's line and headers together;
	// larger ones are answered 431. It is also the read buffer every open
	// connection keeps, idle ones included (fasthttp never lets go of it
	// when bodies are streamed). 0 is DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// Auth authenticates and authorizes every request and serves the
	// token endpoint. nil serves everyone (auth mode "none").
	Auth *auth.Auth
	// Metrics records every request and serves /metrics; nil does neither.
	Metrics *metrics.Metrics
	// MetricsRequireAuth puts /metrics behind authentication (the admin
	// action). Without Auth it has no effect.
	MetricsRequireAuth bool
	// Ready is the readiness check of /readyz; nil is always ready.
	Ready func() error
	// Admin is the admin API served under /api/v1; nil serves none.
	Admin *adminapi.API
	// BodyIdleTimeout cuts off a request whose body makes no progress
	// this long (uploads.idle_timeout); 0 never does.
	BodyIdleTimeout time.Duration
	// UploadsPerCaller bounds the uploads one account (or, anonymous, one
	// address) streams at once (uploads.per_account); 0 is no bound.
	UploadsPerCaller int
	// Proxies are the reverse proxies whose X-Forwarded-For names the
	// client in the access log (the remote field).
	Proxies forwarded.Trust
	// UI is the web UI served under /ui; nil serves none.
	UI *ui.UI
}

// DefaultMaxHeaderBytes holds what registry clients send with room to
// spare: a request line and headers of 0.5–1 KiB, a bearer token of
// about 0.5 KiB and 0.1 KiB per granted scope (mcr's tokens: 5.3 KiB for
// 50 repositories), and what proxies and single-sign-on gateways in front
// add (forwarding headers, session cookies of several KiB). 8 KiB would
// keep 4 MiB less for 512 open connections (docs/benchmarks.md, "Memory,
// third pass"), and answer 431 to a client that worked before:
// http.max_header_size lowers it where every client is known.
const DefaultMaxHeaderBytes = 16 << 10

// adminPrefix is where the admin API's paths start.
const adminPrefix = apiv1.Prefix + "/"

// isUI reports whether path is under the web UI's prefix.
func isUI(path []byte) bool {
	return bytes.Equal(path, []byte(ui.Prefix)) || bytes.HasPrefix(path, []byte(ui.Prefix+"/"))
}

// Server is the HTTP front end.
type Server struct {
	srv      *fasthttp.Server
	log      zerolog.Logger
	metrics  *metrics.Metrics
	idle     time.Duration
	life     *lifetime
	conns    *conns
	draining atomic.Bool
	proxies  forwarded.Trust
	served   atomic.Uint64 // requests begun (Served)
	idBase   uint64        // random: request ids are idBase + served
}

// prefetchLimit is how much of a request body fasthttp reads before the
// handler runs. Anything larger is streamed (StreamRequestBody), so an
// upload is never buffered whole: blob handlers copy the stream to a
// staging file and manifests are read with their own 4 MiB cap.
const prefetchLimit = 64 << 10

// New builds the server for reg.
func New(reg *engine.Registry, log zerolog.Logger, o Options) *Server {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	api := distapi.New(reg, log)
	if o.UploadsPerCaller > 0 {
		api.WithUploadGate(newUploadGate(o.UploadsPerCaller, o.Proxies))
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	s := &Server{log: log, metrics: o.Metrics, proxies: o.Proxies, idle: o.BodyIdleTimeout, life: newLifetime(), conns: newConns(), idBase: randomBase()}
	handler := r.Handler
	if o.Auth != nil {
		api.WithAuthorizer(o.Auth)
		o.Auth.Register(r)
		handler = o.Auth.Middleware(r.Handler)
	}
	api.Register(r)
	if o.Admin != nil {
		o.Admin.Register(r)
		if o.Auth != nil {
			o.Auth.WithAPIErrors(adminPrefix, adminapi.WriteError)
		}
	}
	if o.UI != nil {
		o.UI.Register(r)
	}
	if o.Metrics != nil && o.MetricsRequireAuth && o.Auth != nil {
		registerMetrics(r, o.Auth, o.Metrics)
	}
	handler = s.ops(handler, o)
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		if o.UI != nil && isUI(ctx.Path()) {
			o.UI.NotFound(ctx)
			return
		}
		if o.Admin != nil && bytes.HasPrefix(ctx.Path(), []byte(adminPrefix)) {
			adminapi.NotFound(ctx)
			return
		}
		distapi.WriteError(ctx, errcode.New(errcode.EndpointUnknown, "no such endpoint"))
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		if o.Admin != nil && bytes.HasPrefix(ctx.Path(), []byte(adminPrefix)) {
			adminapi.MethodNotAllowed(ctx)
			return
		}
		distapi.WriteError(ctx, errcode.New(errcode.Unsupported, "method not allowed"))
	}
	r.HandleMethodNotAllowed = true
	s.srv = &fasthttp.Server{
		Handler:                      s.middleware(handler),
		Name:                         "mcr",
		ReadTimeout:                  o.ReadTimeout,
		WriteTimeout:                 o.WriteTimeout,
		IdleTimeout:                  o.IdleTimeout,
		Concurrency:                  o.Concurrency,
		StreamRequestBody:            true,
		MaxRequestBodySize:           prefetchLimit,
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		ReadBufferSize:               o.MaxHeaderBytes, // fasthttp answers 431 past it
		// Between requests a keep-alive connection gives its write buffer
		// and its request and response body buffers back to fasthttp's
		// pools instead of holding them until the client closes it
		// (clients keep idle connections 90 s and more). Its read buffer
		// stays: with StreamRequestBody fasthttp never lets go of it.
		// About 8 KiB a connection, a pool get and put per request
		// (docs/benchmarks.md, "Memory").
		ReduceMemoryUsage: true,
		CloseOnShutdown:   true,
		Logger:            fasthttpLogger{log},
		HeaderReceived:    s.headerReceived,
		ConnState:         s.conns.state,
	}
	return s
}

// Served counts the requests that began so far; a caller that sees it
// unchanged knows the server was idle meanwhile.
func (s *Server) Served() uint64 { return s.served.Load() }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Handler returns the full request handler, for in-process tests.
func (s *Server) Handler() fasthttp.RequestHandler { return s.srv.Handler }

func (s *Server) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		n := s.served.Add(1)
		start := time.Now()
		id := requestID(ctx, s.idBase+n)
		ctx.Response.Header.SetCanonical(headerRequestID, []byte(id))
		ctx.Response.Header.SetCanonical(headerAPIVersion, apiVersion)
		end := reqctx.Begin(ctx, s.life.base(ctx.ConnID()), s.life.stopping, s.idle)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error().Str("request_id", id).Interface("panic", p).Bytes("path", ctx.Path()).Msg("handler panic")
				distapi.WriteError(ctx, errcode.New(errcode.Internal, "internal error"))
			}
			if reqctx.Cut(ctx) != nil {
				// The client is gone, stalled or shut out: no answer,
				// the connection is closed.
				ctx.HijackSetNoResponse(true)
				ctx.Hijack(func(net.Conn) {})
			}
			s.access(ctx, id, start)
			end()
		}()
		if refused(ctx) {
			return
		}
		s.bodyDeadline(ctx)
		next(ctx)
	}
}

// The headers of every response, their names in the form fasthttp writes
// (Set would normalize them on every request).
var (
	headerRequestID  = []byte("X-Request-Id")
	headerAPIVersion = []byte("Docker-Distribution-Api-Version")
	apiVersion       = []byte("registry/2.0")
)

// requestID keeps a caller's X-Request-Id (so a trace spans proxies) or
// makes one from n: unique within the process (a counter), and across
// processes and restarts as two random 64-bit numbers are (the counter
// starts at one, randomBase), without a read of random bytes per request.
func requestID(ctx *fasthttp.RequestCtx, n uint64) string {
	if v := ctx.Request.Header.Peek("X-Request-Id"); len(v) > 0 && len(v) <= 128 {
		return string(v)
	}
	var b [8]byte
	var h [16]byte
	binary.BigEndian.PutUint64(b[:], n)
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// randomBase is where a server's request ids start.
func randomBase() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func (s *Server) access(ctx *fasthttp.RequestCtx, id string, start time.Time) {
	status := ctx.Response.StatusCode()
	cut := reqctx.Cut(ctx)
	if cut != nil {
		status = statusCut // nothing was answered
	}
	took := time.Since(start)
	route := routeName(ctx.Path())
	in, out := bytesIn(ctx), bytesOut(ctx)
	if s.metrics != nil {
		s.metrics.Observe(metrics.Request{Route: route, Method: string(ctx.Method()), Status: status, BytesIn: in, BytesOut: out, Duration: took})
	}
	ev := s.log.Debug()
	if cut != nil {
		ev = s.log.Info().AnErr("cut", cut)
	} else if err := distapi.InternalError(ctx); err != nil {
		ev = s.log.Error().Err(err)
	} else if status >= 500 && status != fasthttp.StatusInsufficientStorage {
		// A 507 is the disk floor refusing a write: logged once when the
		// floor is crossed (engine/diskspace), not once per client retry.
		ev = s.log.Error()
	}
	if !ev.Enabled() {
		return
	}
	ev.Str("request_id", id).
		Bytes("method", ctx.Method()).
		Bytes("path", ctx.Path()).
		Str("route", route).
		Int("status", status).
		Int64("bytes_in", in).
		Int64("bytes_out", out).
		Dur("duration", took).
		Str("subject", auth.Subject(ctx)).
		Str("remote", s.proxies.ClientIP(ctx).String()).
		Msg("request")
}

// statusCut is the status a request that was cut off is logged and
// counted with (nginx's "client closed request"): it got no response.
const statusCut = 499

type fasthttpLogger struct{ log zerolog.Logger }

// fasthttpLogMax caps a fasthttp message: its parse errors quote what the
// client sent, and one garbage request must not put kilobytes in the log.
const fasthttpLogMax = 300

func (l fasthttpLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > fasthttpLogMax {
		msg = msg[:fasthttpLogMax] + "... (truncated)"
	}
	l.log.Warn().Msg(msg)
}
