// Package adminapi serves the operator's REST API under /api/v1 (docs/api.md):
// status, repositories, upload sessions, jobs and garbage collection,
// policy, accounts, the audit log, snapshots and the profiler. It is a thin layer: every route
// parses its input, asks the policy for the one action it declares, calls
// the service layer (http/adminsvc, shared with the gRPC API) that does the
// work, and writes JSON (apiv1 types).
package adminapi

import (
	"context"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// Authorizer authenticates nothing itself (the auth middleware ran
// already) but decides whether the caller may do a route's action.
// http/auth implements it; without one (auth mode "none") every request is
// allowed.
type Authorizer interface {
	// AuthorizeAPI returns nil or the error to answer with (401 with a
	// challenge, 403 DENIED).
	AuthorizeAPI(ctx *fasthttp.RequestCtx, act policy.Action, repo string) error
	// Allowed answers without side effects, for filtering listings.
	Allowed(ctx *fasthttp.RequestCtx, act policy.Action, repo string) bool
	// Actor names the caller in the audit events of the changes it makes.
	Actor(ctx *fasthttp.RequestCtx) audit.Actor
}

// Deps are the components the API drives: the service layer's (shared
// with the gRPC API), and how a caller is authorized and errors logged.
type Deps struct {
	adminsvc.Deps
	Log        zerolog.Logger
	Authorizer Authorizer
}

// API is the admin API.
type API struct {
	d   Deps
	svc *adminsvc.Service
}

// New returns the API over d.
func New(d Deps) *API {
	return &API{d: d, svc: adminsvc.New(d.Deps)}
}

// Service is the service layer the API calls: the gRPC API is served over
// the same one.
func (a *API) Service() *adminsvc.Service { return a.svc }

// handler is a route's body: it writes its answer, or returns the error to
// answer with.
type handler func(ctx *fasthttp.RequestCtx) error

// Register adds the routes to r.
func (a *API) Register(r *router.Router) {
	p := apiv1.Prefix
	r.GET(p+"/status", a.global(policy.Admin, a.status))

	r.GET(p+"/repositories", a.serve(a.listRepositories)) // authorizes itself: catalog, filtered by pull
	for _, m := range []string{fasthttp.MethodGet, fasthttp.MethodDelete} {
		r.Handle(m, p+"/repositories/{path:*}", a.serve(a.repository))
	}

	r.GET(p+"/uploads", a.global(policy.Admin, a.listUploads))
	r.DELETE(p+"/uploads/{id}", a.global(policy.Admin, a.deleteUpload))

	r.GET(p+"/jobs", a.global(policy.Admin, a.listJobs))
	r.GET(p+"/jobs/{kind:*}", a.global(policy.Admin, a.job))
	r.GET(p+"/gc", a.global(policy.Admin, a.gcStatus))
	r.POST(p+"/gc", a.global(policy.Admin, a.gcRun))
	r.GET(p+"/gc/history", a.global(policy.Admin, a.gcHistory))

	r.GET(p+"/policy/rules", a.global(policy.PolicyManage, a.listRules))
	r.POST(p+"/policy/rules", a.global(policy.PolicyManage, a.createRule))
	r.GET(p+"/policy/rules/{id}", a.global(policy.PolicyManage, a.getRule))
	r.PUT(p+"/policy/rules/{id}", a.global(policy.PolicyManage, a.replaceRule))
	r.DELETE(p+"/policy/rules/{id}", a.global(policy.PolicyManage, a.deleteRule))
	r.POST(p+"/policy/rules/{id}/enable", a.global(policy.PolicyManage, a.enableRule(true)))
	r.POST(p+"/policy/rules/{id}/disable", a.global(policy.PolicyManage, a.enableRule(false)))
	r.POST(p+"/policy/evaluate", a.global(policy.PolicyManage, a.evaluate))

	r.GET(p+"/accounts", a.global(policy.Admin, a.listAccounts))
	r.POST(p+"/accounts", a.global(policy.Admin, a.createAccount))
	r.GET(p+"/accounts/{id}", a.global(policy.Admin, a.getAccount))
	r.DELETE(p+"/accounts/{id}", a.global(policy.Admin, a.deleteAccount))
	r.POST(p+"/accounts/{id}/enable", a.global(policy.Admin, a.enableAccount(true)))
	r.POST(p+"/accounts/{id}/disable", a.global(policy.Admin, a.enableAccount(false)))
	r.PUT(p+"/accounts/{id}/password", a.global(policy.Admin, a.setPassword))
	r.GET(p+"/accounts/{id}/keys", a.global(policy.Admin, a.listKeys))
	r.POST(p+"/accounts/{id}/keys", a.global(policy.Admin, a.createKey))
	r.DELETE(p+"/accounts/{id}/keys/{key}", a.global(policy.Admin, a.revokeKey))

	r.GET(p+"/audit", a.global(policy.Admin, a.queryAudit))
	r.GET(p+"/audit/verify", a.global(policy.Admin, a.verifyAudit))

	r.POST(p+"/snapshots", a.global(policy.Admin, a.createSnapshot))

	r.GET(p+"/debug/pprof/{name:*}", a.global(policy.Admin, a.pprof))
}

// serve runs h and writes its error, if any.
func (a *API) serve(h handler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if err := h(ctx); err != nil {
			a.writeError(ctx, err)
		}
	}
}

// global serves a route whose action is registry-wide.
func (a *API) global(act policy.Action, h handler) fasthttp.RequestHandler {
	return a.serve(func(ctx *fasthttp.RequestCtx) error {
		if err := a.authorize(ctx, act, ""); err != nil {
			return err
		}
		return h(ctx)
	})
}

func (a *API) authorize(ctx *fasthttp.RequestCtx, act policy.Action, repo string) error {
	if a.d.Authorizer == nil {
		return nil
	}
	return a.d.Authorizer.AuthorizeAPI(ctx, act, repo)
}

func (a *API) allowed(ctx *fasthttp.RequestCtx, act policy.Action, repo string) bool {
	return a.d.Authorizer == nil || a.d.Authorizer.Allowed(ctx, act, repo)
}

// actor is who the audit log says made a change.
func (a *API) actor(ctx *fasthttp.RequestCtx) audit.Actor {
	if a.d.Authorizer == nil {
		return audit.Actor{Remote: ctx.RemoteIP().String()}
	}
	return a.d.Authorizer.Actor(ctx)
}

// changeContext carries the caller to the service, which audits the
// changes it makes in the caller's name.
func (a *API) changeContext(ctx *fasthttp.RequestCtx) context.Context {
	return audit.WithActor(reqctx.Context(ctx), a.actor(ctx))
}
