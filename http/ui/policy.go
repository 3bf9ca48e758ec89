package ui

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// The policy pages, behind policy:manage as in the admin API: the rules,
// a form to create or edit one, enable/disable/delete, and the test of a
// request against them.
func (u *UI) registerPolicy(r *router.Router) {
	p := Prefix + "/policy"
	r.GET(p, u.page(u.managePolicy(u.policyPage)))
	r.POST(p+"/test", u.form(u.managePolicy(u.policyTest)))
	r.POST(p+"/rules", u.form(u.managePolicy(u.saveRule)))
	r.GET(p+"/rules/{id}", u.page(u.managePolicy(u.editRule)))
	r.POST(p+"/rules/{id}/{op}", u.form(u.managePolicy(u.ruleOp)))
}

func (u *UI) managePolicy(h handler) handler {
	return func(ctx *fasthttp.RequestCtx, v *viewer) error {
		if err := v.require(policy.PolicyManage, ""); err != nil {
			return err
		}
		if u.d.Policy == nil {
			return errcode.New(errcode.Conflict, "no policy engine: auth mode is none")
		}
		return h(ctx, v)
	}
}

// testResult is the answer to a policy test.
type testResult struct {
	Who, Action, Repository string
	Decision                policy.Decision
}

// policyData is the policy page.
type policyData struct {
	Rules   []policy.Rule
	Actions []policy.Action
	Edit    policy.Rule // the form's values: a new rule, or the one edited
	Editing bool
	Test    *testResult
}

func (u *UI) policyData() policyData {
	return policyData{Rules: u.d.Policy.Rules(), Actions: policy.Actions(), Edit: policy.Rule{Enabled: true, Effect: policy.Allow}}
}

func (u *UI) policyPage(ctx *fasthttp.RequestCtx, v *viewer) error {
	return u.render(ctx, fasthttp.StatusOK, "policy", "Policy", v, u.policyData())
}

func (u *UI) editRule(ctx *fasthttp.RequestCtx, v *viewer) error {
	id, _ := ctx.UserValue("id").(string)
	r, ok := u.d.Policy.Rule(id)
	if !ok {
		return errcode.New(errcode.NotFound, "no rule %s", id)
	}
	d := u.policyData()
	d.Edit, d.Editing = r, true
	return u.render(ctx, fasthttp.StatusOK, "policy", "Policy", v, d)
}

// policyTest answers who (an account name, or empty for anonymous) doing
// action on repository: the decision and the rule that decided.
func (u *UI) policyTest(ctx *fasthttp.RequestCtx, v *viewer) error {
	t := testResult{Who: strings.TrimSpace(v.field("who")), Action: v.field("action"), Repository: strings.TrimSpace(v.field("repository"))}
	act := policy.Action(t.Action)
	if !slices.Contains(policy.Actions(), act) {
		return errcode.New(errcode.Invalid, "unknown action %q", t.Action)
	}
	q := policy.Request{Action: act, Repository: t.Repository}
	if t.Who != "" {
		ids, err := u.accountsService()
		if err != nil {
			return err
		}
		a, err := ids.AccountByName(reqctx.Context(ctx), t.Who)
		if err != nil {
			return err
		}
		p := a.Principal()
		q.AccountID, q.AccountType, q.Roles = p.ID, p.Type, p.Roles
	}
	t.Decision = u.d.Policy.Evaluate(q)
	d := u.policyData()
	d.Test = &t
	return u.render(ctx, fasthttp.StatusOK, "policy", "Policy", v, d)
}

// ruleFromForm reads the rule form.
func ruleFromForm(v *viewer) (policy.Rule, error) {
	r := policy.Rule{
		ID: strings.TrimSpace(v.field("id")), Description: v.field("description"), Effect: policy.Effect(v.field("effect")),
		Subject: policy.Subject{AccountID: strings.TrimSpace(v.field("account")), AccountType: v.field("type"), Role: strings.TrimSpace(v.field("role"))},
		Enabled: v.field("enabled") == "on",
	}
	if s := strings.TrimSpace(v.field("priority")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return r, errcode.New(errcode.Invalid, "priority %q is not an integer", s)
		}
		r.Priority = n
	}
	for _, a := range v.form.PeekMulti("action") {
		r.Actions = append(r.Actions, policy.Action(a))
	}
	r.Repositories = strings.Fields(strings.ReplaceAll(v.field("repositories"), ",", " "))
	return r, nil
}

// saveRule creates a rule, or replaces it when the form edits one.
func (u *UI) saveRule(ctx *fasthttp.RequestCtx, v *viewer) error {
	r, err := ruleFromForm(v)
	if err != nil {
		return err
	}
	actx := audit.WithActor(reqctx.Context(ctx), u.actor(ctx, v))
	if v.field("replace") == "1" {
		err = u.d.Policy.Replace(actx, r)
	} else {
		err = u.d.Policy.Create(actx, r)
	}
	if err != nil {
		return err
	}
	return redirect(ctx, Prefix+"/policy")
}

// ruleOp enables, disables or deletes a rule.
func (u *UI) ruleOp(ctx *fasthttp.RequestCtx, v *viewer) error {
	id, _ := ctx.UserValue("id").(string)
	r, ok := u.d.Policy.Rule(id)
	if !ok {
		return errcode.New(errcode.NotFound, "no rule %s", id)
	}
	actx := audit.WithActor(reqctx.Context(ctx), u.actor(ctx, v))
	var err error
	switch op, _ := ctx.UserValue("op").(string); op {
	case "enable", "disable":
		r.Enabled = op == "enable"
		err = u.d.Policy.Replace(actx, r)
	case "delete":
		_, err = u.d.Policy.Delete(actx, id)
	default:
		return errcode.New(errcode.NotFound, "no such action %s", op)
	}
	if err != nil {
		return err
	}
	return redirect(ctx, Prefix+"/policy")
}

// actor names the viewer in the audit events of the changes the policy
// engine records itself.
func (u *UI) actor(ctx *fasthttp.RequestCtx, v *viewer) audit.Actor {
	return audit.Actor{ID: v.p.ID, Name: v.p.Name, Remote: ctx.RemoteIP().String()}
}
