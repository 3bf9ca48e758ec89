package policy

import (
	"cmp"
	"slices"
)

// Anonymous is the account type of a caller without credentials.
const Anonymous = "anonymous"

// Request is a question to the policy: may this caller do Action on
// Repository ("" for a global operation)?
type Request struct {
	AccountID   string // "" when anonymous
	AccountType string // human, system; "" or anonymous when anonymous
	Roles       []string
	Action      Action
	Repository  string
}

func (q Request) accountType() string {
	if q.AccountType == "" {
		return Anonymous
	}
	return q.AccountType
}

// Decision is the answer, with the rule that decided it (nil when no rule
// matched: the default deny).
type Decision struct {
	Allowed bool
	Rule    *Rule
}

// Reason says why, for logs, audit events and the detail of a DENIED error.
func (d Decision) Reason() string {
	switch {
	case d.Rule == nil:
		return "no rule allows it"
	case d.Allowed:
		return "allowed by rule " + d.Rule.ID
	default:
		return "denied by rule " + d.Rule.ID
	}
}

// sortRules returns rules stably sorted by priority: rules of equal
// priority keep their order (built-ins first, then stored rules by id).
func sortRules(rules []Rule) []Rule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// evaluate decides q against rules, which must be sorted by priority (as
// the Engine's rule cache keeps them). Every matching rule is
// considered: the first matching deny decides; else the first matching
// allow; else nothing matched and the answer is deny.
func evaluate(sorted []Rule, q Request) Decision {
	var allow *Rule
	for i := range sorted {
		r := &sorted[i]
		if !r.matches(q) {
			continue
		}
		if r.Effect == Deny {
			return Decision{Allowed: false, Rule: r}
		}
		if allow == nil {
			allow = r
		}
	}
	if allow != nil {
		return Decision{Allowed: true, Rule: allow}
	}
	return Decision{}
}
