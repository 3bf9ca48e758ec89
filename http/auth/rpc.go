package auth

import (
	"context"
	"strings"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// RPCCaller is the authenticated caller of a call on a transport other
// than HTTP (the gRPC API), where there is no RequestCtx to keep it in.
type RPCCaller struct {
	c      *caller
	remote string
}

// AuthenticateRPC checks the credentials of a call from remote, given as
// an Authorization header value would be ("Bearer <token>", or "Basic
// <base64 user:password>" where an access key's secret is a password):
// the same tokens, accounts, keys and login limiter as the admin REST
// API. No credentials is Unauthorized: the admin surfaces take no
// anonymous calls.
func (a *Auth) AuthenticateRPC(ctx context.Context, authorization, remote string) (RPCCaller, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case authorization == "":
		return RPCCaller{}, errcode.New(errcode.Unauthorized, "authentication required: send authorization metadata")
	case strings.EqualFold(scheme, "Bearer"):
		c, err := a.verifyBearer(ctx, cred)
		if err != nil {
			return RPCCaller{}, err
		}
		return RPCCaller{c: c, remote: remote}, nil
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := parseBasic([]byte(cred))
		if !ok {
			return RPCCaller{}, errcode.New(errcode.Unauthorized, "malformed Basic credentials")
		}
		p, err := a.checkLogin(ctx, remote, user, pass, "basic", false)
		if err != nil {
			return RPCCaller{}, err
		}
		return RPCCaller{c: &caller{p: p, presented: true}, remote: remote}, nil
	}
	return RPCCaller{}, errcode.New(errcode.Unauthorized, "unsupported authorization scheme")
}

// AuthorizeRPC decides as AuthorizeAPI does: a bearer token must carry
// APIScope, the policy decides, and a denial is audited.
func (a *Auth) AuthorizeRPC(ctx context.Context, rc RPCCaller, act policy.Action, repo string) error {
	_, err := a.apiCheck(ctx, rc.c, rc.remote, act, repo)
	return err
}

// AllowedRPC reports whether the policy lets rc do act on repo, without
// errors or audit events: for filtering listings.
func (a *Auth) AllowedRPC(rc RPCCaller, act policy.Action, repo string) bool {
	return a.o.Policy.Evaluate(request(rc.c.p, act, repo)).Allowed
}

// Actor names rc in the audit events of the changes it makes.
func (rc RPCCaller) Actor() audit.Actor {
	return audit.Actor{ID: rc.c.p.ID, Name: rc.c.p.Name, Remote: rc.remote}
}
