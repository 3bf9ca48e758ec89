package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/identity/mcias"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/distapi"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// Mode says where identities come from.
type Mode string

// The modes.
const (
	// ModeNone turns authentication and authorization off: local
	// development only.
	ModeNone Mode = "none"
	// ModeBuiltin uses mcr's own accounts.
	ModeBuiltin Mode = "builtin"
	// ModeMCIAS delegates logins and token validation to MCIAS; mcr still
	// issues and verifies its own tokens for the Docker token flow.
	ModeMCIAS Mode = "mcias"
)

// Options configures Auth.
type Options struct {
	Mode     Mode
	Identity *identity.Service // signs and verifies tokens; the accounts in builtin mode
	MCIAS    *mcias.Client     // ModeMCIAS only
	Policy   *policy.Engine
	Audit    audit.Recorder // nil: audit.Nop
	// Realm is the token endpoint's absolute URL announced in challenges;
	// "" derives it from each request's scheme and Host.
	Realm string
	// Proxies are the reverse proxies whose X-Forwarded-* headers are
	// believed: for the realm's scheme and host, and for the client
	// address the limiter and the audit log record.
	Proxies forwarded.Trust
	Limits  Limits
	// Failures, when set, shares the failed-login limits with the other
	// replicas of a shared store (identity.Failures); nil keeps them per
	// process (Badger: one process).
	Failures SharedFailures
	Now      func() time.Time
	// AuditPulls records manifest pulls in the audit log too (busy
	// registries pull far more than they push).
	AuditPulls bool
}

// Auth authenticates requests and authorizes them against the policy.
type Auth struct {
	o       Options
	now     func() time.Time
	audit   audit.Recorder
	limiter *Limiter
	checks  singleflight.Group // concurrent checks of the same credentials
	service string
	// Requests under apiPrefix get their authentication errors written by
	// apiErrors (the admin API's JSON) instead of as OCI errors.
	apiPrefix []byte
	apiErrors func(*fasthttp.RequestCtx, error)
}

// WithAPIErrors makes the authentication errors of requests under prefix
// be written by w.
func (a *Auth) WithAPIErrors(prefix string, w func(*fasthttp.RequestCtx, error)) {
	a.apiPrefix, a.apiErrors = []byte(prefix), w
}

// New builds Auth. Options.Identity and Options.Policy are required.
func New(o Options) *Auth {
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Auth{o: o, now: o.Now, audit: o.Audit, limiter: NewLimiter(o.Limits, o.Failures), service: o.Identity.ServiceName()}
}

// remote is the client's address, as the limiter and the audit log key it.
func (a *Auth) remote(ctx *fasthttp.RequestCtx) string {
	return a.o.Proxies.ClientIP(ctx).String()
}

// TokenPath is the token endpoint.
const TokenPath = "/v2/token"

// caller is who sent the request.
type caller struct {
	p         identity.Principal
	claims    *identity.Claims // set for mcr's own bearer tokens
	presented bool             // credentials were sent (and accepted)
}

const callerKey = "mcr.caller"

func callerOf(ctx *fasthttp.RequestCtx) *caller {
	if c, ok := ctx.UserValue(callerKey).(*caller); ok {
		return c
	}
	return &caller{}
}

// Subject names the authenticated account of the request, for the access
// log; "" when no credentials were presented (or auth is off).
func Subject(ctx *fasthttp.RequestCtx) string {
	if c := callerOf(ctx); c.presented {
		return c.p.Name
	}
	return ""
}

// Middleware authenticates every request but the token endpoint's (which
// reads its own credentials) and records the caller for Authorize. Bad
// credentials are refused here, before any handler runs; no credentials
// make an anonymous caller, whom the policy usually refuses with a
// challenge.
func (a *Auth) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == TokenPath {
			next(ctx)
			return
		}
		c, err := a.authenticate(ctx)
		if err != nil {
			if a.apiErrors != nil && bytes.HasPrefix(ctx.Path(), a.apiPrefix) {
				a.apiErrors(ctx, err)
				return
			}
			distapi.WriteError(ctx, err)
			return
		}
		ctx.SetUserValue(callerKey, c)
		next(ctx)
	}
}

// authenticate reads the Authorization header.
func (a *Auth) authenticate(ctx *fasthttp.RequestCtx) (*caller, error) {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) == 0 {
		return &caller{}, nil
	}
	scheme, cred, _ := bytes.Cut(h, []byte{' '})
	cred = bytes.TrimSpace(cred)
	switch {
	case bytes.EqualFold(scheme, []byte("Basic")):
		user, pass, ok := parseBasic(cred)
		if !ok {
			return nil, a.challenge(ctx, "", "", errcode.New(errcode.Unauthorized, "malformed Basic credentials"))
		}
		p, err := a.login(ctx, user, pass, "basic", false)
		if err != nil {
			return nil, err
		}
		return &caller{p: p, presented: true}, nil
	case bytes.EqualFold(scheme, []byte("Bearer")):
		return a.bearer(ctx, string(cred))
	}
	return nil, a.challenge(ctx, "", "", errcode.New(errcode.Unauthorized, "unsupported authorization scheme"))
}

// bearer verifies a token: mcr's own locally, an MCIAS token with MCIAS.
func (a *Auth) bearer(ctx *fasthttp.RequestCtx, tok string) (*caller, error) {
	c, err := a.verifyBearer(reqctx.Context(ctx), tok)
	if err != nil {
		return nil, a.tokenError(ctx, err)
	}
	return c, nil
}

// verifyBearer is bearer without the challenge: for every transport.
func (a *Auth) verifyBearer(ctx context.Context, tok string) (*caller, error) {
	if a.o.Mode == ModeMCIAS && !a.o.Identity.LooksLikeToken(tok) {
		p, err := a.o.MCIAS.Validate(ctx, tok)
		if err != nil {
			return nil, err
		}
		return &caller{p: p, presented: true}, nil
	}
	cl, err := a.o.Identity.VerifyToken(tok)
	if err != nil {
		return nil, err
	}
	return &caller{p: cl.Principal(), claims: cl, presented: true}, nil
}

func (a *Auth) tokenError(ctx *fasthttp.RequestCtx, err error) error {
	if errcode.KindOf(err) != errcode.Unauthorized {
		return err
	}
	return a.challenge(ctx, "", "invalid_token", err)
}

// parseBasic decodes "base64(user:password)" (RFC 7617).
func parseBasic(cred []byte) (user, pass string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(string(cred))
	if err != nil {
		return "", "", false
	}
	u, p, found := bytes.Cut(raw, []byte{':'})
	if !found || len(u) == 0 {
		return "", "", false
	}
	return string(u), string(p), true
}

// login checks credentials with the identity source of the mode, under the
// brute-force limiter, and audits the outcome. Successful Basic logins on
// ordinary requests are not audited (they happen on every request); the
// token endpoint audits them (auditSuccess).
func (a *Auth) login(ctx *fasthttp.RequestCtx, user, pass, via string, auditSuccess bool) (identity.Principal, error) {
	p, err := a.checkLogin(reqctx.Context(ctx), a.remote(ctx), user, pass, via, auditSuccess)
	if errcode.KindOf(err) == errcode.Unauthorized {
		return p, a.challenge(ctx, "", "", err)
	}
	return p, err
}

// checkLogin is login without the challenge, for a caller at addr: for
// every transport.
func (a *Auth) checkLogin(ctx context.Context, addr, user, pass, via string, auditSuccess bool) (identity.Principal, error) {
	now := a.now()
	ev := audit.Event{Time: now, AccountName: user, Remote: addr, Action: via}
	if wait, blocked := a.limiter.Blocked(user, addr, now); blocked {
		ev.Kind, ev.Outcome, ev.Detail = audit.LoginFailed, "rate_limited", "too many failed logins"
		a.audit.Record(ctx, ev)
		return identity.Principal{}, tooMany(wait)
	}
	p, err := a.check(ctx, user, pass, addr, now)
	if errors.Is(err, errChecksBusy) {
		ev.Kind, ev.Outcome, ev.Detail = audit.LoginFailed, "rate_limited", "too many logins waiting from the address"
		a.audit.Record(ctx, ev)
		return identity.Principal{}, retryLater(time.Second, "too many logins waiting from this address")
	}
	if err != nil {
		if errcode.KindOf(err) != errcode.Unauthorized {
			return identity.Principal{}, err // the store or MCIAS failed: not the client's fault
		}
		a.limiter.Fail(ctx, user, addr, now)
		ev.Kind, ev.Outcome, ev.Detail = audit.LoginFailed, "failure", reason(err)
		a.audit.Record(ctx, ev)
		return identity.Principal{}, err
	}
	a.limiter.Succeed(ctx, user, addr)
	if auditSuccess {
		ev.Kind, ev.Outcome, ev.AccountID = audit.Login, "success", p.ID
		a.audit.Record(ctx, ev)
	}
	return p, nil
}

var errChecksBusy = errors.New("auth: the address has its share of credential checks in flight")

// check verifies credentials: a login in the login cache at once; any
// other (an argon2id hash, a call to MCIAS) only within the address's
// share of concurrent checks (Limits.AddrChecks), so that one address
// cannot hold more than its share of the hashers while everyone else's
// logins wait. Concurrent checks of the same credentials share one: a
// fleet of CI jobs behind one address logging in at once with one robot's
// credentials costs one hash, not one refusal per job.
func (a *Auth) check(rctx context.Context, user, pass, addr string, now time.Time) (identity.Principal, error) {
	if a.o.Mode != ModeMCIAS {
		if p, ok := a.o.Identity.CachedLogin(rctx, user, pass); ok {
			return p, nil
		}
	}
	k := identity.CredentialKey(user, pass)
	v, err, _ := a.checks.Do(string(k[:]), func() (any, error) {
		leave, ok := a.limiter.Enter(rctx, addr, now)
		if !ok {
			return identity.Principal{}, errChecksBusy
		}
		defer leave()
		if a.o.Mode == ModeMCIAS {
			return a.o.MCIAS.Login(rctx, user, pass)
		}
		return a.o.Identity.Login(rctx, user, pass)
	})
	p, _ := v.(identity.Principal)
	return p, err
}

// reason is the cause of a login failure, for the audit log.
func reason(err error) string {
	for e := err; e != nil; {
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return e.Error()
		}
		next := u.Unwrap()
		if next == nil {
			return e.Error()
		}
		e = next
	}
	return ""
}

// Identity is the identity service (accounts, keys, tokens).
func (a *Auth) Identity() *identity.Service { return a.o.Identity }

// Policy is the policy engine.
func (a *Auth) Policy() *policy.Engine { return a.o.Policy }

// Mode is where identities come from.
func (a *Auth) Mode() Mode { return a.o.Mode }

// Login checks a user name and password from a sign-in form (the web UI)
// under the same brute-force limiter and audit as every other login, so a
// form is no way around the rate limit.
func (a *Auth) Login(ctx *fasthttp.RequestCtx, user, pass string) (identity.Principal, error) {
	return a.login(ctx, user, pass, "ui", true)
}

// Evaluate asks the policy about p: the web UI authorizes a signed-in
// session's principal with the same rules as every API request.
func (a *Auth) Evaluate(p identity.Principal, act policy.Action, repo string) policy.Decision {
	return a.o.Policy.Evaluate(request(p, act, repo))
}
