package distapi

import (
	"strings"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// API serves the distribution API from a Registry.
type API struct {
	reg *engine.Registry
	log zerolog.Logger
}

// New returns the API over reg.
func New(reg *engine.Registry, log zerolog.Logger) *API {
	return &API{reg: reg, log: log}
}

// handler is the shape of every endpoint: it writes a success response or
// returns an error, which WriteError alone turns into a response.
type handler func(ctx *fasthttp.RequestCtx, rt route) error

// Register adds the /v2 routes to r. Repository names contain slashes, so
// the router only splits off /v2/ and a catch-all; parseRoute takes the
// rest apart from the right, where the grammar is unambiguous.
func (a *API) Register(r *router.Router) {
	r.GET("/v2/", a.serve(a.base))
	r.HEAD("/v2/", a.serve(a.base))
	r.GET("/v2/_catalog", a.serve(a.catalog))
	r.ANY("/v2/{path:*}", a.dispatch)
}

// serve adapts a handler that needs no route.
func (a *API) serve(h func(*fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if err := h(ctx); err != nil {
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

// methods maps each endpoint and HTTP method to its handler.
func (a *API) methods(k kind, method string) handler {
	switch k {
	case kindManifest:
		switch method {
		case fasthttp.MethodGet, fasthttp.MethodHead:
			return a.getManifest
		case fasthttp.MethodPut:
			return a.putManifest
		case fasthttp.MethodDelete:
			return a.deleteManifest
		}
	case kindBlob:
		switch method {
		case fasthttp.MethodGet, fasthttp.MethodHead:
			return a.getBlob
		case fasthttp.MethodDelete:
			return a.deleteBlob
		}
	case kindUploads:
		if method == fasthttp.MethodPost {
			return a.startUpload
		}
	case kindUpload:
		switch method {
		case fasthttp.MethodGet:
			return a.uploadStatus
		case fasthttp.MethodPatch:
			return a.patchUpload
		case fasthttp.MethodPut:
			return a.putUpload
		case fasthttp.MethodDelete:
			return a.cancelUpload
		}
	case kindTags:
		if method == fasthttp.MethodGet {
			return a.tags
		}
	case kindReferrers:
		if method == fasthttp.MethodGet {
			return a.referrers
		}
	}
	return nil
}

func (a *API) dispatch(ctx *fasthttp.RequestCtx) {
	p, _ := ctx.UserValue("path").(string)
	rt, ok := parseRoute(p)
	if !ok {
		WriteError(ctx, errcode.New(errcode.EndpointUnknown, "no such endpoint"))
		return
	}
	h := a.methods(rt.kind, string(ctx.Method()))
	if h == nil {
		WriteError(ctx, errcode.New(errcode.Unsupported, "method %s not supported here", ctx.Method()))
		return
	}
	if err := names.Repo(rt.repo); err != nil {
		WriteError(ctx, err)
		return
	}
	if err := h(ctx, rt); err != nil {
		WriteError(ctx, err)
	}
}

func (a *API) base(ctx *fasthttp.RequestCtx) error {
	ctx.SetContentType("application/json")
	ctx.SetBodyString("{}")
	return nil
}
