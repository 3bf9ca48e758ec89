package adminapi

import (
	"slices"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func rule(r policy.Rule) apiv1.Rule {
	acts := make([]string, len(r.Actions))
	for i, a := range r.Actions {
		acts[i] = string(a)
	}
	return apiv1.Rule{
		ID: r.ID, Priority: r.Priority, Description: r.Description, Effect: string(r.Effect),
		Subject: apiv1.Subject{AccountID: r.Subject.AccountID, AccountType: r.Subject.AccountType, Role: r.Subject.Role},
		Actions: acts, Repositories: r.Repositories, Enabled: r.Enabled, BuiltIn: r.BuiltIn,
	}
}

func fromRule(r apiv1.Rule) policy.Rule {
	acts := make([]policy.Action, len(r.Actions))
	for i, a := range r.Actions {
		acts[i] = policy.Action(a)
	}
	return policy.Rule{
		ID: r.ID, Priority: r.Priority, Description: r.Description, Effect: policy.Effect(r.Effect),
		Subject: policy.Subject{AccountID: r.Subject.AccountID, AccountType: r.Subject.AccountType, Role: r.Subject.Role},
		Actions: acts, Repositories: r.Repositories, Enabled: r.Enabled,
	}
}

// policyEngine is the engine, or the refusal when the registry runs
// without one (auth mode none).
func (a *API) policyEngine() (*policy.Engine, error) {
	if a.d.Policy == nil {
		return nil, errNotManaged("policy rules")
	}
	return a.d.Policy, nil
}

func (a *API) listRules(ctx *fasthttp.RequestCtx) error {
	pe, err := a.policyEngine()
	if err != nil {
		return err
	}
	out := apiv1.RuleList{Rules: []apiv1.Rule{}}
	for _, r := range pe.Rules() {
		out.Rules = append(out.Rules, rule(r))
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// ruleOf looks up the rule the path names.
func (a *API) ruleOf(ctx *fasthttp.RequestCtx) (*policy.Engine, policy.Rule, error) {
	pe, err := a.policyEngine()
	if err != nil {
		return nil, policy.Rule{}, err
	}
	id := ctx.UserValue("id").(string)
	r, ok := pe.Rule(id)
	if !ok {
		return nil, policy.Rule{}, errcode.New(errcode.NotFound, "no rule %s", id).WithDetail(map[string]string{"rule": id})
	}
	return pe, r, nil
}

func (a *API) getRule(ctx *fasthttp.RequestCtx) error {
	_, r, err := a.ruleOf(ctx)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, rule(r))
}

func (a *API) createRule(ctx *fasthttp.RequestCtx) error {
	pe, err := a.policyEngine()
	if err != nil {
		return err
	}
	in := apiv1.NewRule() // enabled and at the default priority unless the body says otherwise
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	r := fromRule(in)
	if err := pe.Create(a.changeContext(ctx), r); err != nil {
		return err
	}
	stored, _ := pe.Rule(r.ID)
	return writeJSON(ctx, fasthttp.StatusCreated, rule(stored))
}

func (a *API) replaceRule(ctx *fasthttp.RequestCtx) error {
	pe, err := a.policyEngine()
	if err != nil {
		return err
	}
	id := ctx.UserValue("id").(string)
	in := apiv1.NewRule() // enabled and at the default priority unless the body says otherwise
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	if in.ID == "" {
		in.ID = id
	}
	if in.ID != id {
		return errcode.New(errcode.Invalid, "the body's id %q is not the path's %q", in.ID, id)
	}
	if err := pe.Replace(a.changeContext(ctx), fromRule(in)); err != nil {
		return err
	}
	stored, _ := pe.Rule(id)
	return writeJSON(ctx, fasthttp.StatusOK, rule(stored))
}

func (a *API) deleteRule(ctx *fasthttp.RequestCtx) error {
	pe, r, err := a.ruleOf(ctx)
	if err != nil {
		return err
	}
	found, err := pe.Delete(a.changeContext(ctx), r.ID)
	if err != nil {
		return err
	}
	if !found { // deleted by someone else since ruleOf
		return errcode.New(errcode.NotFound, "no rule %s", r.ID)
	}
	return noContent(ctx)
}

func (a *API) enableRule(on bool) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		pe, r, err := a.ruleOf(ctx)
		if err != nil {
			return err
		}
		r.Enabled = on
		if err := pe.Replace(a.changeContext(ctx), r); err != nil {
			return err
		}
		return writeJSON(ctx, fasthttp.StatusOK, rule(r))
	}
}

// evaluate answers which rule decides a request, for an existing account
// or a hypothetical caller.
func (a *API) evaluate(ctx *fasthttp.RequestCtx) error {
	pe, err := a.policyEngine()
	if err != nil {
		return err
	}
	var in apiv1.EvaluateRequest
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	act := policy.Action(in.Action)
	if !slices.Contains(policy.Actions(), act) {
		return errcode.New(errcode.Invalid, "unknown action %q", in.Action)
	}
	q := policy.Request{AccountType: in.AccountType, Roles: in.Roles, Action: act, Repository: in.Repository}
	if in.Account != "" {
		if a.d.Identity == nil {
			return errNotManaged("accounts")
		}
		acct, err := a.account(reqctx.Context(ctx), in.Account)
		if err != nil {
			return err
		}
		p := acct.Principal()
		q.AccountID, q.AccountType, q.Roles = p.ID, p.Type, p.Roles
	} else if q.AccountType != "" && q.AccountType != identity.Human && q.AccountType != identity.System && q.AccountType != policy.Anonymous {
		return errcode.New(errcode.Invalid, "account_type %q: want human, system or anonymous", q.AccountType)
	}
	d := pe.Evaluate(q)
	out := apiv1.Decision{Allowed: d.Allowed, Reason: d.Reason()}
	if d.Rule != nil {
		r := rule(*d.Rule)
		out.Rule = &r
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}
