package policy

import (
	"testing"
)

var (
	alice  = Request{AccountID: "u-alice", AccountType: "human", Roles: []string{"dev"}}
	admin  = Request{AccountID: "u-root", AccountType: "human", Roles: []string{"admin"}}
	robot  = Request{AccountID: "u-ci", AccountType: "system", Roles: []string{"ci"}}
	nobody = Request{}
)

func (q Request) do(a Action, repo string) Request {
	q.Action, q.Repository = a, repo
	return q
}

func allow(id string, prio int, s Subject, acts []Action, repos ...string) Rule {
	return Rule{ID: id, Priority: prio, Effect: Allow, Subject: s, Actions: acts, Repositories: repos, Enabled: true}
}

func deny(id string, prio int, s Subject, acts []Action, repos ...string) Rule {
	r := allow(id, prio, s, acts, repos...)
	r.Effect = Deny
	return r
}

func TestEvaluate(t *testing.T) {
	pull := []Action{Pull}
	push := []Action{Push}
	disabled := allow("off", 0, Subject{}, pull, "**")
	disabled.Enabled = false
	cases := []struct {
		name    string
		rules   []Rule
		q       Request
		allowed bool
		by      string // deciding rule id, "" for the default deny
	}{
		{"no rules deny", nil, alice.do(Pull, "a"), false, ""},
		{"exact repo", []Rule{allow("r", 0, Subject{}, pull, "a")}, alice.do(Pull, "a"), true, "r"},
		{"other repo", []Rule{allow("r", 0, Subject{}, pull, "a")}, alice.do(Pull, "b"), false, ""},
		{"action not listed", []Rule{allow("r", 0, Subject{}, pull, "a")}, alice.do(Push, "a"), false, ""},
		{"disabled rule ignored", []Rule{disabled}, alice.do(Pull, "a"), false, ""},

		// Subject fields, each alone.
		{"account id match", []Rule{allow("r", 0, Subject{AccountID: "u-ci"}, push, "ci/*")}, robot.do(Push, "ci/app"), true, "r"},
		{"account id mismatch", []Rule{allow("r", 0, Subject{AccountID: "u-ci"}, push, "ci/*")}, alice.do(Push, "ci/app"), false, ""},
		{"type match", []Rule{allow("r", 0, Subject{AccountType: "system"}, pull, "**")}, robot.do(Pull, "x"), true, "r"},
		{"type mismatch", []Rule{allow("r", 0, Subject{AccountType: "system"}, pull, "**")}, alice.do(Pull, "x"), false, ""},
		{"role match", []Rule{allow("r", 0, Subject{Role: "dev"}, pull, "**")}, alice.do(Pull, "x"), true, "r"},
		{"role mismatch", []Rule{allow("r", 0, Subject{Role: "dev"}, pull, "**")}, robot.do(Pull, "x"), false, ""},
		{"all subject fields", []Rule{allow("r", 0, Subject{AccountID: "u-ci", AccountType: "system", Role: "ci"}, pull, "**")}, robot.do(Pull, "x"), true, "r"},
		{"one subject field off", []Rule{allow("r", 0, Subject{AccountID: "u-ci", AccountType: "human"}, pull, "**")}, robot.do(Pull, "x"), false, ""},
		{"empty subject matches anonymous", []Rule{allow("pub", 0, Subject{}, pull, "public/*")}, nobody.do(Pull, "public/x"), true, "pub"},
		{"anonymous type", []Rule{allow("anon", 0, Subject{AccountType: Anonymous}, pull, "**")}, nobody.do(Pull, "x"), true, "anon"},
		{"anonymous type not for users", []Rule{allow("anon", 0, Subject{AccountType: Anonymous}, pull, "**")}, alice.do(Pull, "x"), false, ""},
		{"role rule never matches anonymous", []Rule{allow("r", 0, Subject{Role: "dev"}, pull, "**")}, nobody.do(Pull, "x"), false, ""},

		// Globs.
		{"star one segment", []Rule{allow("r", 0, Subject{}, pull, "prod/*")}, alice.do(Pull, "prod/app"), true, "r"},
		{"star not across slash", []Rule{allow("r", 0, Subject{}, pull, "prod/*")}, alice.do(Pull, "prod/team/app"), false, ""},
		{"star not the prefix itself", []Rule{allow("r", 0, Subject{}, pull, "prod/*")}, alice.do(Pull, "prod"), false, ""},
		{"double star under prefix", []Rule{allow("r", 0, Subject{}, pull, "prod/**")}, alice.do(Pull, "prod/team/app"), true, "r"},
		{"double star not the prefix", []Rule{allow("r", 0, Subject{}, pull, "prod/**")}, alice.do(Pull, "prod"), false, ""},
		{"double star not a longer name", []Rule{allow("r", 0, Subject{}, pull, "prod/**")}, alice.do(Pull, "production/app"), false, ""},
		{"globbed prefix", []Rule{allow("r", 0, Subject{}, pull, "team-*/**")}, alice.do(Pull, "team-a/x/y"), true, "r"},
		{"everything", []Rule{allow("r", 0, Subject{}, pull, "**")}, alice.do(Pull, "a/b/c/d"), true, "r"},
		{"character class", []Rule{allow("r", 0, Subject{}, pull, "app[0-9]")}, alice.do(Pull, "app7"), true, "r"},
		{"second glob of list", []Rule{allow("r", 0, Subject{}, pull, "x", "y/*")}, alice.do(Pull, "y/z"), true, "r"},

		// Empty repositories: global operations only.
		{"global rule for catalog", []Rule{allow("r", 0, Subject{}, []Action{Catalog})}, alice.do(Catalog, ""), true, "r"},
		{"global rule not for repos", []Rule{allow("r", 0, Subject{}, pull)}, alice.do(Pull, "a"), false, ""},
		{"repo rule not for catalog", []Rule{allow("r", 0, Subject{}, []Action{Catalog}, "**")}, alice.do(Catalog, ""), false, ""},

		// Deny wins, whatever the priority.
		{"deny wins over earlier allow", []Rule{
			allow("a", 0, Subject{}, pull, "**"), deny("d", 10, Subject{AccountID: "u-alice"}, pull, "secret/*"),
		}, alice.do(Pull, "secret/x"), false, "d"},
		{"deny elsewhere does not apply", []Rule{
			allow("a", 0, Subject{}, pull, "**"), deny("d", 10, Subject{AccountID: "u-alice"}, pull, "secret/*"),
		}, alice.do(Pull, "public/x"), true, "a"},
		{"first deny by priority decides", []Rule{
			deny("d2", 5, Subject{}, pull, "**"), deny("d1", 1, Subject{}, pull, "**"),
		}, alice.do(Pull, "x"), false, "d1"},
		{"deny beats admin built-in", append(BuiltIns(), deny("freeze", 0, Subject{}, []Action{Push}, "frozen/**")),
			admin.do(Push, "frozen/app"), false, "freeze"},

		// Priority: the first allow in priority order is reported; ties keep input order.
		{"lower priority first", []Rule{allow("late", 9, Subject{}, pull, "**"), allow("early", 1, Subject{}, pull, "**")}, alice.do(Pull, "x"), true, "early"},
		{"tie keeps order", []Rule{allow("one", 3, Subject{}, pull, "**"), allow("two", 3, Subject{}, pull, "**")}, alice.do(Pull, "x"), true, "one"},
		{"tie keeps order reversed", []Rule{allow("two", 3, Subject{}, pull, "**"), allow("one", 3, Subject{}, pull, "**")}, alice.do(Pull, "x"), true, "two"},
		{"negative priority", []Rule{allow("a", 0, Subject{}, pull, "**"), allow("neg", -1, Subject{}, pull, "**")}, alice.do(Pull, "x"), true, "neg"},

		// Built-ins.
		{"admin pulls", BuiltIns(), admin.do(Pull, "any/thing"), true, "builtin:admin"},
		{"admin deletes", BuiltIns(), admin.do(Delete, "x"), true, "builtin:admin"},
		{"admin manages policy", BuiltIns(), admin.do(PolicyManage, ""), true, "builtin:admin-global"},
		{"admin admin", BuiltIns(), admin.do(Admin, ""), true, "builtin:admin-global"},
		{"human pushes", BuiltIns(), alice.do(Push, "a/b"), true, "builtin:human"},
		{"human deletes", BuiltIns(), alice.do(Delete, "a"), true, "builtin:human"},
		{"human catalog", BuiltIns(), alice.do(Catalog, ""), true, "builtin:human-catalog"},
		{"human no policy", BuiltIns(), alice.do(PolicyManage, ""), false, ""},
		{"human no admin", BuiltIns(), alice.do(Admin, ""), false, ""},
		{"system gets nothing by default", BuiltIns(), robot.do(Pull, "x"), false, ""},
		{"system no catalog", BuiltIns(), robot.do(Catalog, ""), false, ""},
		{"anyone version check", BuiltIns(), nobody.do(VersionCheck, ""), true, "builtin:version-check"},
		{"system version check", BuiltIns(), robot.do(VersionCheck, ""), true, "builtin:version-check"},
		{"anonymous pulls nothing", BuiltIns(), nobody.do(Pull, "x"), false, ""},
		{"system granted ci", append(BuiltIns(), allow("ci", 100, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")),
			robot.do(Push, "ci/app"), true, "ci"},
		{"system not granted prod", append(BuiltIns(), allow("ci", 100, Subject{AccountID: "u-ci"}, []Action{Pull, Push}, "ci/*")),
			robot.do(Push, "prod/app"), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := evaluate(sortRules(c.rules), c.q)
			by := ""
			if d.Rule != nil {
				by = d.Rule.ID
			}
			if d.Allowed != c.allowed || by != c.by {
				t.Errorf("Evaluate = allowed %v by %q (%s); want %v by %q", d.Allowed, by, d.Reason(), c.allowed, c.by)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := allow("ok", 0, Subject{AccountType: "system"}, []Action{Pull}, "a/*", "b/**")
	if err := good.Validate(); err != nil {
		t.Errorf("good rule: %v", err)
	}
	bad := []Rule{
		{ID: "", Effect: Allow, Actions: []Action{Pull}},
		{ID: "x/y", Effect: Allow, Actions: []Action{Pull}},
		{ID: "x", Effect: "maybe", Actions: []Action{Pull}},
		{ID: "x", Effect: Allow},
		{ID: "x", Effect: Allow, Actions: []Action{"fly"}},
		{ID: "x", Effect: Allow, Actions: []Action{Pull}, Repositories: []string{"["}},
		{ID: "x", Effect: Allow, Actions: []Action{Pull}, Repositories: []string{""}},
		{ID: "x", Effect: Allow, Actions: []Action{Pull}, Subject: Subject{AccountType: "robot"}},
	}
	for _, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("rule %+v validated", r)
		}
	}
	for _, r := range BuiltIns() {
		if err := r.Validate(); err != nil {
			t.Errorf("built-in: %v", err)
		}
	}
}

func FuzzMatchRepo(f *testing.F) {
	f.Add("prod/*", "prod/app")
	f.Add("prod/**", "prod/a/b")
	f.Add("**", "x")
	f.Fuzz(func(t *testing.T, glob, repo string) {
		got := matchRepo(glob, repo)
		if glob == "**" && !got {
			t.Fatal("** must match everything")
		}
	})
}
