package distapi

import (
	"strings"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// API serves the distribution API from a Registry.
type API struct {
	reg   *engine.Registry
	log   zerolog.Logger
	authz Authorizer
	gate  UploadGate
}

// UploadGate bounds the uploads a caller streams at once (http/server
// counts them per account or anonymous address).
type UploadGate interface {
	// Admit counts an upload request, or returns the error to answer
	// with (429 with Retry-After). leave ends the count.
	Admit(ctx *fasthttp.RequestCtx) (leave func(), err error)
}

// Authorizer decides, before a handler runs, whether the caller may do the
// action the route declares on its repository ("" for global operations).
// http/auth implements it; without one every request is allowed (auth
// mode "none").
type Authorizer interface {
	// Authorize returns nil, or the error to answer with (401 with a
	// challenge, 403 DENIED).
	Authorize(ctx *fasthttp.RequestCtx, action policy.Action, repo string) error
	// Allowed answers the same question without side effects, for
	// filtering: the catalog, the sources of an automatic mount.
	Allowed(ctx *fasthttp.RequestCtx, action policy.Action, repo string) bool
}

// New returns the API over reg, open to everyone until WithAuthorizer.
func New(reg *engine.Registry, log zerolog.Logger) *API {
	return &API{reg: reg, log: log}
}

// WithAuthorizer makes z check every request and returns a.
func (a *API) WithAuthorizer(z Authorizer) *API {
	a.authz = z
	return a
}

// WithUploadGate makes g admit every request that streams an upload body
// and returns a.
func (a *API) WithUploadGate(g UploadGate) *API {
	a.gate = g
	return a
}

// streamsUpload reports whether a request to k with method may carry a
// blob upload's body.
func streamsUpload(k kind, method string) bool {
	return (k == kindUploads && method == fasthttp.MethodPost) ||
		(k == kindUpload && (method == fasthttp.MethodPatch || method == fasthttp.MethodPut))
}

// authorize checks act on repo with the Authorizer, if there is one.
func (a *API) authorize(ctx *fasthttp.RequestCtx, act policy.Action, repo string) error {
	if a.authz == nil {
		return nil
	}
	return a.authz.Authorize(ctx, act, repo)
}

// canPull reports whether the caller may pull repo: the filter for the
// catalog and for mount sources. nil when everyone may.
func (a *API) canPull(ctx *fasthttp.RequestCtx) func(repo string) bool {
	if a.authz == nil {
		return nil
	}
	return func(repo string) bool { return a.authz.Allowed(ctx, policy.Pull, repo) }
}

// handler is the shape of every endpoint: it writes a success response or
// returns an error, which WriteError alone turns into a response.
type handler func(ctx *fasthttp.RequestCtx, rt route) error

// Register adds the /v2 routes to r. Repository names contain slashes, so
// the router only splits off /v2/ and a catch-all; parseRoute takes the
// rest apart from the right, where the grammar is unambiguous.
func (a *API) Register(r *router.Router) {
	r.GET("/v2/", a.serve(policy.VersionCheck, a.base))
	r.HEAD("/v2/", a.serve(policy.VersionCheck, a.base))
	r.GET("/v2/_catalog", a.serve(policy.Catalog, a.catalog))
	r.ANY("/v2/{path:*}", a.dispatch)
}

// serve adapts a handler that needs no route; act is the global action it
// declares.
func (a *API) serve(act policy.Action, h func(*fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		err := a.authorize(ctx, act, "")
		if err == nil {
			err = h(ctx)
		}
		if err != nil {
			WriteError(ctx, err)
		}
	}
}

// kind of endpoint under /v2/<name>/.
type kind int

const (
	kindManifest  kind = iota + 1 // /manifests/<reference>
	kindBlob                      // /blobs/<digest>
	kindUploads                   // /blobs/uploads/
	kindUpload                    // /blobs/uploads/<id>
	kindTags                      // /tags/list
	kindReferrers                 // /referrers/<digest>
)

// route is a parsed /v2/<name>/... path.
type route struct {
	kind kind
	repo string
	arg  string // reference, digest or upload id
}

// parseRoute splits the part of the path after /v2/. The repository is
// everything before the endpoint's fixed segments, so a repository may
// itself contain a segment named "blobs" or "manifests".
func parseRoute(p string) (route, bool) {
	if repo, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return route{kind: kindTags, repo: repo}, true
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return route{}, false
	}
	rest, last := p[:i], p[i+1:]
	j := strings.LastIndexByte(rest, '/')
	if j <= 0 {
		return route{}, false
	}
	repo, seg := rest[:j], rest[j+1:]
	switch seg {
	case "manifests":
		return route{kind: kindManifest, repo: repo, arg: last}, last != ""
	case "referrers":
		return route{kind: kindReferrers, repo: repo, arg: last}, last != ""
	case "blobs":
		if last == "uploads" {
			return route{kind: kindUploads, repo: repo}, true
		}
		return route{kind: kindBlob, repo: repo, arg: last}, last != ""
	case "uploads":
		if r, ok := strings.CutSuffix(repo, "/blobs"); ok && r != "" {
			if last == "" {
				return route{kind: kindUploads, repo: r}, true
			}
			return route{kind: kindUpload, repo: r, arg: last}, true
		}
	}
	return route{}, false
}

// methods maps each endpoint and HTTP method to its handler and the policy
// action it declares on the route's repository. Every upload step is a
// push; a mount also needs pull on its source, which startUpload checks.
func (a *API) methods(k kind, method string) (handler, policy.Action) {
	switch k {
	case kindManifest:
		switch method {
		case fasthttp.MethodGet, fasthttp.MethodHead:
			return a.getManifest, policy.Pull
		case fasthttp.MethodPut:
			return a.putManifest, policy.Push
		case fasthttp.MethodDelete:
			return a.deleteManifest, policy.Delete
		}
	case kindBlob:
		switch method {
		case fasthttp.MethodGet, fasthttp.MethodHead:
			return a.getBlob, policy.Pull
		case fasthttp.MethodDelete:
			return a.deleteBlob, policy.Delete
		}
	case kindUploads:
		if method == fasthttp.MethodPost {
			return a.startUpload, policy.Push
		}
	case kindUpload:
		switch method {
		case fasthttp.MethodGet:
			return a.uploadStatus, policy.Push
		case fasthttp.MethodPatch:
			return a.patchUpload, policy.Push
		case fasthttp.MethodPut:
			return a.putUpload, policy.Push
		case fasthttp.MethodDelete:
			return a.cancelUpload, policy.Push
		}
	case kindTags:
		if method == fasthttp.MethodGet {
			return a.tags, policy.Pull
		}
	case kindReferrers:
		if method == fasthttp.MethodGet {
			return a.referrers, policy.Pull
		}
	}
	return nil, ""
}

func (a *API) dispatch(ctx *fasthttp.RequestCtx) {
	p, _ := ctx.UserValue("path").(string)
	rt, ok := parseRoute(p)
	if !ok {
		WriteError(ctx, errcode.New(errcode.EndpointUnknown, "no such endpoint"))
		return
	}
	h, act := a.methods(rt.kind, string(ctx.Method()))
	if h == nil {
		WriteError(ctx, errcode.New(errcode.Unsupported, "method %s not supported here", ctx.Method()))
		return
	}
	if err := names.Repo(rt.repo); err != nil {
		WriteError(ctx, err)
		return
	}
	if err := a.authorize(ctx, act, rt.repo); err != nil {
		WriteError(ctx, err)
		return
	}
	if a.gate != nil && streamsUpload(rt.kind, string(ctx.Method())) {
		leave, err := a.gate.Admit(ctx)
		if err != nil {
			WriteError(ctx, err)
			reqctx.CloseUnread(ctx) // the body is not read
			return
		}
		defer leave()
	}
	if err := h(ctx, rt); err != nil {
		WriteError(ctx, err)
		return
	}
	a.audit(ctx, act, rt)
}

func (a *API) base(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/json")
	ctx.SetBodyString("{}")
	return nil
}
