package auth

import (
	"context"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// request turns a principal and an operation into a policy question.
func request(p identity.Principal, act policy.Action, repo string) policy.Request {
	return policy.Request{AccountID: p.ID, AccountType: p.Type, Roles: p.Roles, Action: act, Repository: repo}
}

// Allowed reports whether the policy lets the caller do act on repo,
// without errors or audit events: for filtering (the catalog, the sources
// of an automatic mount).
func (a *Auth) Allowed(ctx *fasthttp.RequestCtx, act policy.Action, repo string) bool {
	return a.o.Policy.Evaluate(request(callerOf(ctx).p, act, repo)).Allowed
}

// Authorize decides whether the caller may do act on repo ("" for a
// global operation). It is what each route's declared action is checked
// with, before the handler runs:
//
//   - a caller without credentials is challenged (401) unless the policy
//     lets anyone do it; GET /v2/ always challenges them, so that clients
//     discover the token endpoint;
//   - a bearer token must grant the action: if it does not but the policy
//     would, the answer is 401 insufficient_scope and the client fetches a
//     wider token;
//   - the policy decides; a denial is 403 DENIED naming the rule, and an
//     audit event.
func (a *Auth) Authorize(ctx *fasthttp.RequestCtx, act policy.Action, repo string) error {
	c := callerOf(ctx)
	if !c.presented {
		if act != policy.VersionCheck && a.o.Policy.Evaluate(request(c.p, act, repo)).Allowed {
			return nil
		}
		return a.challenge(ctx, scopeFor(act, repo), "", nil)
	}
	d := a.o.Policy.Evaluate(request(c.p, act, repo))
	if c.claims != nil && act != policy.VersionCheck && !grants(c.claims, act, repo) {
		if c.p.Anonymous() {
			return a.challenge(ctx, scopeFor(act, repo), "insufficient_scope",
				errcode.New(errcode.Unauthorized, "authentication required"))
		}
		if d.Allowed {
			return a.challenge(ctx, scopeFor(act, repo), "insufficient_scope",
				errcode.New(errcode.Unauthorized, "token does not grant %s on %s", act, target(repo)))
		}
	}
	if d.Allowed {
		return nil
	}
	if c.p.Anonymous() {
		return a.challenge(ctx, scopeFor(act, repo), "", nil)
	}
	return a.deny(reqctx.Context(ctx), a.remote(ctx), c, act, repo, d)
}

// APIScope is the token scope of the admin API. Any authenticated account
// is granted it; the policy then decides each route's action, so a token
// without it (a pull token handed to a CI job, say) cannot reach the
// admin API even for an account that may.
const APIScope = "registry:api:*"

// AuthorizeAPI decides whether the caller may do act on repo through the
// admin API: credentials are required, a bearer token must carry
// APIScope, and the policy decides as for Authorize.
func (a *Auth) AuthorizeAPI(ctx *fasthttp.RequestCtx, act policy.Action, repo string) error {
	code, err := a.apiCheck(reqctx.Context(ctx), callerOf(ctx), a.remote(ctx), act, repo)
	if errcode.KindOf(err) == errcode.Unauthorized {
		return a.challenge(ctx, APIScope, code, err)
	}
	return err
}

// apiCheck is AuthorizeAPI's decision for c at remote: nil, a denial
// (audited), or an Unauthorized error with the RFC 6750 error code its
// challenge carries.
func (a *Auth) apiCheck(ctx context.Context, c *caller, remote string, act policy.Action, repo string) (string, error) {
	if !c.presented || c.p.Anonymous() {
		return "", errcode.New(errcode.Unauthorized, "authentication required")
	}
	if c.claims != nil && !c.claims.Grants("registry", "api", "*") {
		return "insufficient_scope", errcode.New(errcode.Unauthorized, "token does not grant the admin API (scope %s)", APIScope)
	}
	d := a.o.Policy.Evaluate(request(c.p, act, repo))
	if d.Allowed {
		return "", nil
	}
	return "", a.deny(ctx, remote, c, act, repo, d)
}

// Actor is the caller as the audit log names who made a change.
func (a *Auth) Actor(ctx *fasthttp.RequestCtx) audit.Actor {
	c := callerOf(ctx)
	return audit.Actor{ID: c.p.ID, Name: c.p.Name, Remote: a.remote(ctx)}
}

// deny records a policy refusal and returns the DENIED error naming the
// rule that decided.
func (a *Auth) deny(ctx context.Context, remote string, c *caller, act policy.Action, repo string, d policy.Decision) error {
	a.audit.Record(ctx, audit.Event{
		Time: a.now(), Kind: audit.Denied, AccountID: c.p.ID, AccountName: c.p.Name, AccountType: c.p.Type, Remote: remote,
		Action: string(act), Repository: repo, Outcome: "denied", Detail: d.Reason(),
	})
	detail := map[string]string{"action": string(act), "reason": d.Reason()}
	if repo != "" {
		detail["repository"] = repo
	}
	if d.Rule != nil {
		detail["rule"] = d.Rule.ID
	}
	return errcode.New(errcode.Denied, "%s may not %s %s", c.p.Name, act, target(repo)).WithDetail(detail)
}

func target(repo string) string {
	if repo == "" {
		return "the registry"
	}
	return repo
}

// grants reports whether a token's access covers act on repo.
func grants(cl *identity.Claims, act policy.Action, repo string) bool {
	if act == policy.Catalog {
		return cl.Grants("registry", "catalog", "*") || cl.Grants("registry", "catalog", "catalog")
	}
	if repo == "" {
		return false // global operations other than the catalog are not in Docker scopes
	}
	return cl.Grants("repository", repo, string(act))
}

// AuditMutation records a successful push, delete or, with
// Options.AuditPulls, manifest pull (distapi.Auditor).
func (a *Auth) AuditMutation(ctx *fasthttp.RequestCtx, act policy.Action, repo, ref, digest string) {
	c := callerOf(ctx)
	kind := audit.Push
	switch act {
	case policy.Delete:
		kind = audit.Delete
	case policy.Pull:
		if !a.o.AuditPulls {
			return
		}
		kind = audit.Pull
	}
	detail := ""
	if ref != "" && ref != digest {
		detail = "reference " + ref
	}
	a.audit.Record(reqctx.Context(ctx), audit.Event{
		Time: a.now(), Kind: kind, AccountID: c.p.ID, AccountName: c.p.Name, AccountType: c.p.Type,
		Remote: a.remote(ctx), Action: string(act), Repository: repo, Digest: digest, Outcome: "success", Detail: detail,
	})
}
