package grpcapi

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// policyService implements mcr.v1.PolicyService.
type policyService struct {
	*Server
}

func (s policyService) ListRules(context.Context, *mcrv1.ListRulesRequest) (*mcrv1.ListRulesResponse, error) {
	rs, err := s.o.Service.Rules()
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListRulesResponse{Rules: each(rs.Rules, pbRule)}, nil
}

func (s policyService) CreateRule(ctx context.Context, req *mcrv1.CreateRuleRequest) (*mcrv1.CreateRuleResponse, error) {
	r, err := s.o.Service.CreateRule(ctx, ruleOf(req.GetRule()))
	if err != nil {
		return nil, err
	}
	return &mcrv1.CreateRuleResponse{Rule: pbRule(r)}, nil
}

func (s policyService) GetRule(_ context.Context, req *mcrv1.GetRuleRequest) (*mcrv1.GetRuleResponse, error) {
	r, err := s.o.Service.Rule(req.GetId())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetRuleResponse{Rule: pbRule(r)}, nil
}

func (s policyService) ReplaceRule(ctx context.Context, req *mcrv1.ReplaceRuleRequest) (*mcrv1.ReplaceRuleResponse, error) {
	r, err := s.o.Service.ReplaceRule(ctx, req.GetId(), ruleOf(req.GetRule()))
	if err != nil {
		return nil, err
	}
	return &mcrv1.ReplaceRuleResponse{Rule: pbRule(r)}, nil
}

func (s policyService) DeleteRule(ctx context.Context, req *mcrv1.DeleteRuleRequest) (*mcrv1.DeleteRuleResponse, error) {
	return empty[mcrv1.DeleteRuleResponse](s.o.Service.DeleteRule(ctx, req.GetId()))
}

func (s policyService) EnableRule(ctx context.Context, req *mcrv1.EnableRuleRequest) (*mcrv1.EnableRuleResponse, error) {
	r, err := s.o.Service.EnableRule(ctx, req.GetId(), true)
	if err != nil {
		return nil, err
	}
	return &mcrv1.EnableRuleResponse{Rule: pbRule(r)}, nil
}

func (s policyService) DisableRule(ctx context.Context, req *mcrv1.DisableRuleRequest) (*mcrv1.DisableRuleResponse, error) {
	r, err := s.o.Service.EnableRule(ctx, req.GetId(), false)
	if err != nil {
		return nil, err
	}
	return &mcrv1.DisableRuleResponse{Rule: pbRule(r)}, nil
}

func (s policyService) TestPolicy(ctx context.Context, req *mcrv1.TestPolicyRequest) (*mcrv1.TestPolicyResponse, error) {
	d, err := s.o.Service.Evaluate(ctx, apiv1.EvaluateRequest{
		Account: req.GetAccount(), AccountType: req.GetAccountType(), Roles: req.GetRoles(), Action: req.GetAction(), Repository: req.GetRepository(),
	})
	if err != nil {
		return nil, err
	}
	out := &mcrv1.TestPolicyResponse{Allowed: d.Allowed, Reason: d.Reason}
	if d.Rule != nil {
		out.Rule = pbRule(*d.Rule)
	}
	return out, nil
}
