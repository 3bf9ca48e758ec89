package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Action is something a caller may be allowed to do.
type Action string

// The actions.
const (
	Pull         Action = "pull"          // read manifests, blobs, tags, referrers of a repository
	Push         Action = "push"          // upload blobs, push manifests and tags
	Delete       Action = "delete"        // delete manifests, tags and blob links
	Catalog      Action = "catalog"       // list repositories (global)
	PolicyManage Action = "policy:manage" // change policy rules (global)
	VersionCheck Action = "version_check" // GET /v2/ (global)
	Admin        Action = "admin"         // the admin API: accounts, GC, snapshots (global)
)

// Actions lists every action.
func Actions() []Action {
	return []Action{Pull, Push, Delete, Catalog, PolicyManage, VersionCheck, Admin}
}

// Global reports whether a is an operation on the registry as a whole
// rather than on one repository.
func (a Action) Global() bool {
	switch a {
	case Catalog, PolicyManage, VersionCheck, Admin:
		return true
	}
	return false
}

func (a Action) valid() bool { return slices.Contains(Actions(), a) }

// Effect is what a matching rule does.
type Effect string

// The effects.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Subject selects callers. Every non-empty field must match; an empty
// Subject matches anyone, anonymous callers included.
type Subject struct {
	AccountID   string `json:"account_id,omitempty"`
	AccountType string `json:"account_type,omitempty"` // human, system or anonymous
	Role        string `json:"role,omitempty"`
}

// Rule is one policy rule.
type Rule struct {
	ID          string   `json:"id"`
	Priority    int      `json:"priority"` // lower is evaluated first
	Description string   `json:"description,omitempty"`
	Effect      Effect   `json:"effect"`
	Subject     Subject  `json:"subject"`
	Actions     []Action `json:"actions"`
	// Repositories are globs matched with path.Match, so '*' stops at '/':
	// "prod/*" matches "prod/app" but not "prod/team/app". Two extensions:
	// "**" alone matches every repository and "prefix/**" every repository
	// under prefix/. Empty means the rule covers global operations only.
	Repositories []string `json:"repositories,omitempty"`
	Enabled      bool     `json:"enabled"`
	// BuiltIn is set on the built-in rules, which cannot be changed.
	BuiltIn bool `json:"builtin,omitempty"`
}

// BuiltInPrefix starts the id of every built-in rule.
const BuiltInPrefix = "builtin:"

// Validate reports what is wrong with r.
func (r Rule) Validate() error {
	var errs []string
	if r.ID == "" || len(r.ID) > 128 || strings.ContainsAny(r.ID, "\x00/@ ") {
		errs = append(errs, fmt.Sprintf("id %q: want 1-128 characters, no '/', '@' or spaces", r.ID))
	}
	if r.Effect != Allow && r.Effect != Deny {
		errs = append(errs, fmt.Sprintf("effect %q: want allow or deny", r.Effect))
	}
	if r.Subject.AccountType != "" && !slices.Contains([]string{"human", "system", "anonymous"}, r.Subject.AccountType) {
		errs = append(errs, fmt.Sprintf("subject.account_type %q: want human, system or anonymous", r.Subject.AccountType))
	}
	if len(r.Actions) == 0 {
		errs = append(errs, "actions: name at least one")
	}
	for _, a := range r.Actions {
		if !a.valid() {
			errs = append(errs, fmt.Sprintf("action %q: want one of %v", a, Actions()))
		}
	}
	for _, g := range r.Repositories {
		if g == "" {
			errs = append(errs, "repositories: empty glob")
			continue
		}
		if _, err := path.Match(strings.TrimSuffix(g, "**"), ""); err != nil {
			errs = append(errs, fmt.Sprintf("repository glob %q: %v", g, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("rule %s: %s", r.ID, strings.Join(errs, "; "))
	}
	return nil
}

// matchRepo reports whether glob matches repository repo.
func matchRepo(glob, repo string) bool {
	if glob == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(glob, "/**"); ok {
		// The prefix is itself a glob of whole segments: match it
		// against the same number of leading segments of repo.
		n := strings.Count(prefix, "/") + 1
		parts := strings.SplitN(repo, "/", n+1)
		if len(parts) <= n {
			return false
		}
		ok, _ := path.Match(prefix, strings.Join(parts[:n], "/"))
		return ok
	}
	ok, _ := path.Match(glob, repo)
	return ok
}

// matches reports whether the enabled rule r applies to q.
func (r *Rule) matches(q Request) bool {
	if !r.Enabled || !slices.Contains(r.Actions, q.Action) {
		return false
	}
	s := r.Subject
	if s.AccountID != "" && s.AccountID != q.AccountID {
		return false
	}
	if s.AccountType != "" && s.AccountType != q.accountType() {
		return false
	}
	if s.Role != "" && !slices.Contains(q.Roles, s.Role) {
		return false
	}
	if q.Repository == "" {
		return len(r.Repositories) == 0
	}
	for _, g := range r.Repositories {
		if matchRepo(g, q.Repository) {
			return true
		}
	}
	return false
}
