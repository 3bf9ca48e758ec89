package adminsvc

import (
	"context"
	"slices"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
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
func (s *Service) policyEngine() (*policy.Engine, error) {
	if s.d.Policy == nil {
		return nil, errNotManaged("policy rules")
	}
	return s.d.Policy, nil
}

// Rules lists the rules, built-in ones included, in evaluation order.
func (s *Service) Rules() (apiv1.RuleList, error) {
	pe, err := s.policyEngine()
	if err != nil {
		return apiv1.RuleList{}, err
	}
	out := apiv1.RuleList{Rules: []apiv1.Rule{}}
	for _, r := range pe.Rules() {
		out.Rules = append(out.Rules, rule(r))
	}
	return out, nil
}

func (s *Service) ruleOf(id string) (*policy.Engine, policy.Rule, error) {
	pe, err := s.policyEngine()
	if err != nil {
		return nil, policy.Rule{}, err
	}
	r, ok := pe.Rule(id)
	if !ok {
		return nil, policy.Rule{}, errcode.New(errcode.NotFound, "no rule %s", id).WithDetail(map[string]string{"rule": id})
	}
	return pe, r, nil
}

// Rule is the rule id names.
func (s *Service) Rule(id string) (apiv1.Rule, error) {
	_, r, err := s.ruleOf(id)
	return rule(r), err
}

// CreateRule adds a rule and returns it as stored.
func (s *Service) CreateRule(ctx context.Context, in apiv1.Rule) (apiv1.Rule, error) {
	pe, err := s.policyEngine()
	if err != nil {
		return apiv1.Rule{}, err
	}
	r := fromRule(in)
	if err := pe.Create(ctx, r); err != nil {
		return apiv1.Rule{}, err
	}
	stored, _ := pe.Rule(r.ID)
	return rule(stored), nil
}

// ReplaceRule replaces rule id by in (whose id, when set, must be id).
func (s *Service) ReplaceRule(ctx context.Context, id string, in apiv1.Rule) (apiv1.Rule, error) {
	pe, err := s.policyEngine()
	if err != nil {
		return apiv1.Rule{}, err
	}
	if in.ID == "" {
		in.ID = id
	}
	if in.ID != id {
		return apiv1.Rule{}, errcode.New(errcode.Invalid, "the body's id %q is not the path's %q", in.ID, id)
	}
	if err := pe.Replace(ctx, fromRule(in)); err != nil {
		return apiv1.Rule{}, err
	}
	stored, _ := pe.Rule(id)
	return rule(stored), nil
}

// DeleteRule deletes rule id.
func (s *Service) DeleteRule(ctx context.Context, id string) error {
	pe, r, err := s.ruleOf(id)
	if err != nil {
		return err
	}
	found, err := pe.Delete(ctx, r.ID)
	if err != nil {
		return err
	}
	if !found { // deleted by someone else since ruleOf
		return errcode.New(errcode.NotFound, "no rule %s", r.ID)
	}
	return nil
}

// EnableRule turns rule id on or off.
func (s *Service) EnableRule(ctx context.Context, id string, on bool) (apiv1.Rule, error) {
	pe, r, err := s.ruleOf(id)
	if err != nil {
		return apiv1.Rule{}, err
	}
	r.Enabled = on
	if err := pe.Replace(ctx, r); err != nil {
		return apiv1.Rule{}, err
	}
	return rule(r), nil
}

// Evaluate answers which rule decides a request, for an existing account
// or a hypothetical caller.
func (s *Service) Evaluate(ctx context.Context, in apiv1.EvaluateRequest) (apiv1.Decision, error) {
	pe, err := s.policyEngine()
	if err != nil {
		return apiv1.Decision{}, err
	}
	act := policy.Action(in.Action)
	if !slices.Contains(policy.Actions(), act) {
		return apiv1.Decision{}, errcode.New(errcode.Invalid, "unknown action %q", in.Action)
	}
	q := policy.Request{AccountType: in.AccountType, Roles: in.Roles, Action: act, Repository: in.Repository}
	if in.Account != "" {
		ids, err := s.identities()
		if err != nil {
			return apiv1.Decision{}, err
		}
		acct, err := account(ctx, ids, in.Account)
		if err != nil {
			return apiv1.Decision{}, err
		}
		p := acct.Principal()
		q.AccountID, q.AccountType, q.Roles = p.ID, p.Type, p.Roles
	} else if q.AccountType != "" && q.AccountType != identity.Human && q.AccountType != identity.System && q.AccountType != policy.Anonymous {
		return apiv1.Decision{}, errcode.New(errcode.Invalid, "account_type %q: want human, system or anonymous", q.AccountType)
	}
	d := pe.Evaluate(q)
	out := apiv1.Decision{Allowed: d.Allowed, Reason: d.Reason()}
	if d.Rule != nil {
		r := rule(*d.Rule)
		out.Rule = &r
	}
	return out, nil
}
