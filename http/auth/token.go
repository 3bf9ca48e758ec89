package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// Register adds the token endpoint to r.
func (a *Auth) Register(r *router.Router) {
	r.GET(TokenPath, a.serve(a.getToken))
	r.POST(TokenPath, a.serve(a.postToken))
}

func (a *Auth) serve(h func(*fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if err := h(ctx); err != nil {
			writeTokenError(ctx, err)
		}
	}
}

// tokenReply is the token endpoint's answer: "token" for Docker clients,
// "access_token" for OAuth2 ones (Docker token spec, "Token Response
// Fields"; OAuth2 RFC 6749 §5.1).
type tokenReply struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// getToken answers GET /v2/token?service=&scope=...&offline_token=: Basic
// credentials, or none for an anonymous token that grants what the policy
// grants anyone.
func (a *Auth) getToken(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	if err := a.checkService(string(args.Peek("service"))); err != nil {
		return err
	}
	var scopes []string
	for _, v := range args.PeekMulti("scope") {
		scopes = append(scopes, strings.Fields(string(v))...)
	}
	p := identity.Principal{}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) > 0 {
		scheme, cred, _ := bytes.Cut(h, []byte{' '})
		if !bytes.EqualFold(scheme, []byte("Basic")) {
			return a.challenge(ctx, "", "", errcode.New(errcode.Unauthorized, "the token endpoint takes Basic credentials"))
		}
		user, pass, ok := parseBasic(bytes.TrimSpace(cred))
		if !ok {
			return a.challenge(ctx, "", "", errcode.New(errcode.Unauthorized, "malformed Basic credentials"))
		}
		var err error
		if p, err = a.login(ctx, user, pass, "token", true); err != nil {
			return err
		}
	}
	offline := string(args.Peek("offline_token")) == "true"
	return a.issue(ctx, p, scopes, offline && !p.Anonymous(), "")
}

// postToken answers the OAuth2 form (RFC 6749 §4.3 password, §6 refresh)
// that Docker clients send to keep a refresh token.
func (a *Auth) postToken(ctx *fasthttp.RequestCtx) error {
	form, err := readForm(ctx)
	if err != nil {
		return err
	}
	if err := a.checkService(string(form.Peek("service"))); err != nil {
		return err
	}
	scopes := strings.Fields(string(form.Peek("scope")))
	switch grant := string(form.Peek("grant_type")); grant {
	case "password":
		user, pass := string(form.Peek("username")), string(form.Peek("password"))
		if user == "" {
			return errcode.New(errcode.Invalid, "username is required")
		}
		p, err := a.login(ctx, user, pass, "token", true)
		if err != nil {
			return err
		}
		return a.issue(ctx, p, scopes, string(form.Peek("access_type")) == "offline", "")
	case "refresh_token":
		rt := string(form.Peek("refresh_token"))
		cl, err := a.o.Identity.VerifyRefresh(rt)
		if err != nil {
			return a.challenge(ctx, "", "invalid_token", err)
		}
		p := cl.Principal()
		if a.o.Mode == ModeBuiltin {
			// Re-read the account: a disabled or deleted account, or one
			// whose roles changed, gets nothing on its old refresh token.
			if p, err = a.o.Identity.Principal(reqctx.Context(ctx), p.ID); err != nil {
				a.audit.Record(reqctx.Context(ctx), audit.Event{Time: a.now(), Kind: audit.LoginFailed, AccountID: cl.Subject, AccountName: cl.Name,
					Remote: a.remote(ctx), Action: "refresh_token", Outcome: "failure", Detail: reason(err)})
				return a.challenge(ctx, "", "invalid_token", err)
			}
		}
		return a.issue(ctx, p, scopes, false, rt)
	default:
		return errcode.New(errcode.Invalid, "grant_type %q: want password or refresh_token", grant)
	}
}

// checkService refuses a token request for another service: a token is
// only good for the service it names (its audience).
func (a *Auth) checkService(s string) error {
	if s != "" && s != a.service {
		return errcode.New(errcode.Invalid, "unknown service %q: this registry is %q", s, a.service)
	}
	return nil
}

// MaxTokenBody bounds a token request's form. A body declared larger is
// refused before it is read (http/server).
const MaxTokenBody = 64 << 10

// readForm reads an application/x-www-form-urlencoded body (at most
// MaxTokenBody: bodies are streamed, so fasthttp has not parsed it).
func readForm(ctx *fasthttp.RequestCtx) (*fasthttp.Args, error) {
	body, err := io.ReadAll(io.LimitReader(reqctx.Body(ctx), MaxTokenBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxTokenBody {
		return nil, errcode.New(errcode.TooLarge, "token request over 64 KiB")
	}
	var args fasthttp.Args
	args.ParseBytes(body)
	return &args, nil
}

// issue grants p the requested scopes that the policy allows (a scope the
// policy refuses is left out, not an error: the Docker token spec), signs
// the token and writes the reply.
func (a *Auth) issue(ctx *fasthttp.RequestCtx, p identity.Principal, scopes []string, offline bool, refresh string) error {
	access := a.grant(p, scopes)
	tok, err := a.o.Identity.IssueToken(p, access)
	if err != nil {
		return err
	}
	reply := tokenReply{
		Token: tok.Token, AccessToken: tok.Token, ExpiresIn: int(tok.ExpiresIn / time.Second),
		IssuedAt: tok.IssuedAt.UTC().Format(time.RFC3339), RefreshToken: refresh,
	}
	granted := make([]string, len(access))
	for i, g := range access {
		granted[i] = g.String()
	}
	reply.Scope = strings.Join(granted, " ")
	if offline {
		rt, err := a.o.Identity.IssueRefresh(p)
		if err != nil {
			return err
		}
		reply.RefreshToken = rt.Token
	}
	a.audit.Record(reqctx.Context(ctx), audit.Event{
		Time: a.now(), Kind: audit.TokenIssued, AccountID: p.ID, AccountName: p.Name, Remote: a.remote(ctx),
		Outcome: "success", Detail: "requested [" + strings.Join(scopes, " ") + "] granted [" + reply.Scope + "]",
	})
	b, err := json.Marshal(reply)
	if err != nil {
		return err
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// dockerActions maps a scope's actions to policy actions; "*" is every
// repository action.
func dockerActions(acts []string) []policy.Action {
	var out []policy.Action
	add := func(a policy.Action) {
		for _, x := range out {
			if x == a {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range acts {
		switch a {
		case "*":
			add(policy.Pull)
			add(policy.Push)
			add(policy.Delete)
		case "pull", "push", "delete":
			add(policy.Action(a))
		}
	}
	return out
}

// grant intersects the requested scopes with the policy.
func (a *Auth) grant(p identity.Principal, scopes []string) []identity.Access {
	out := []identity.Access{}
	for _, s := range scopes {
		req, ok := identity.ParseScope(s)
		if !ok {
			continue
		}
		var acts []string
		switch {
		case req.Type == "repository" && names.Repo(req.Name) == nil:
			for _, act := range dockerActions(req.Actions) {
				if a.o.Policy.Evaluate(request(p, act, req.Name)).Allowed {
					acts = append(acts, string(act))
				}
			}
		case req.Type == "registry" && req.Name == "catalog":
			if a.o.Policy.Evaluate(request(p, policy.Catalog, "")).Allowed {
				acts = []string{"*"}
			}
		case req.Type == "registry" && req.Name == "api" && !p.Anonymous():
			acts = []string{"*"} // AuthorizeAPI asks the policy route by route
		}
		if len(acts) == 0 {
			continue
		}
		merged := false
		for i := range out {
			if out[i].Type == req.Type && out[i].Name == req.Name {
				for _, x := range acts {
					if !contains(out[i].Actions, x) {
						out[i].Actions = append(out[i].Actions, x)
					}
				}
				merged = true
			}
		}
		if !merged {
			out = append(out, identity.Access{Type: req.Type, Name: req.Name, Actions: acts})
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
