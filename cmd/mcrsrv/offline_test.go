package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// runMcrsrv runs the command line args (without the program name) and
// returns what it printed.
func runMcrsrv(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := app()
	a.Writer, a.ErrWriter = &out, &out
	err := a.Run(context.Background(), append([]string{"mcrsrv"}, args...))
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runMcrsrv(t, args...)
	if err != nil {
		t.Fatalf("mcrsrv %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// lastLine is the line the commands print a secret on.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestOfflineAccountsAndPolicy runs the account and policy commands on an
// initialized data directory, then reads the result back through the
// identity service and the policy engine, as a server would.
func TestOfflineAccountsAndPolicy(t *testing.T) {
	t.Setenv("MCR_LOG_LEVEL", "error")
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")

	if out, err := runMcrsrv(t, "account", "add", "--data", data, "--name", "ci", "--type", "system"); err == nil || !strings.Contains(err.Error(), "mcrsrv init") {
		t.Fatalf("account add on a missing data dir: %v\n%s", err, out)
	}
	adminPW := filepath.Join(dir, "admin-pw")
	ciPW := filepath.Join(dir, "ci-pw")
	for p, pw := range map[string]string{adminPW: "admin-password", ciPW: "ci-password\n"} {
		if err := os.WriteFile(p, []byte(pw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "init", "--data", data, "--admin-password-file", adminPW)

	out := mustRun(t, "account", "add", "--data", data, "--name", "ci", "--type", "system", "--password-file", ciPW, "--role", "builder")
	if strings.Contains(out, "ci-password") {
		t.Errorf("account add printed a password it was given: %q", out)
	}
	readerPW := lastLine(mustRun(t, "account", "add", "--data", data, "--name", "reader", "--type", "system"))
	mustRun(t, "account", "add", "--data", data, "--name", "robot", "--type", "system", "--no-password")
	key := lastLine(mustRun(t, "account", "key", "add", "--data", data, "--name", "robot", "--description", "test"))
	if !strings.HasPrefix(key, "mcr_") {
		t.Fatalf("account key add printed %q last, want the key", key)
	}
	mustRun(t, "policy", "add", "--data", data, "--id", "ci-push", "--priority", "10", "--effect", "allow",
		"--subject-account", "ci", "--action", "pull", "--action", "push", "--repo", "ci/*", "--description", "CI pushes")
	mustRun(t, "policy", "add", "--data", data, "--id", "system-pull", "--effect", "allow",
		"--subject-type", "system", "--action", "pull", "--repo", "ci/**")
	mustRun(t, "policy", "add", "--data", data, "--id", "tmp", "--effect", "deny", "--action", "delete", "--repo", "**")
	mustRun(t, "policy", "rm", "--data", data, "--id", "tmp")

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "add", "--name", "ci", "--type", "system"}, "already exists"},
		{[]string{"account", "add", "--name", "bob", "--type", "robot"}, "account type"},
		{[]string{"account", "add", "--name", "bob", "--type", "human", "--no-password"}, "needs a password"},
		{[]string{"account", "key", "add", "--name", "admin"}, "system accounts"},
		{[]string{"account", "key", "add", "--name", "nobody"}, "no account"},
		{[]string{"policy", "add", "--id", "builtin:x", "--effect", "allow", "--action", "pull"}, "built in"},
		{[]string{"policy", "add", "--id", "x", "--effect", "maybe", "--action", "fly"}, "effect"},
		{[]string{"policy", "add", "--id", "x", "--effect", "allow", "--action", "pull", "--subject-account", "nobody"}, "no account"},
		{[]string{"policy", "add", "--id", "x", "--effect", "allow", "--action", "pull", "--subject-type", "system", "--subject-role", "r"}, "at most one"},
		{[]string{"policy", "rm", "--id", "nope"}, "no rule"},
	} {
		args := append(bad.args[:2:2], append([]string{"--data", data}, bad.args[2:]...)...)
		if bad.args[1] == "key" {
			args = append(bad.args[:3:3], append([]string{"--data", data}, bad.args[3:]...)...)
		}
		if out, err := runMcrsrv(t, args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("mcrsrv %v: %v (want %q)\n%s", args, err, bad.want, out)
		}
	}

	ls := mustRun(t, "policy", "ls", "--data", data)
	for _, want := range []string{"ci-push", "account=ci(", "system-pull", "type=system", "builtin:human", "(global)"} {
		if !strings.Contains(ls, want) {
			t.Errorf("policy ls lacks %q:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, "tmp") {
		t.Errorf("policy ls lists the removed rule:\n%s", ls)
	}
	if accts := mustRun(t, "account", "ls", "--data", data); !strings.Contains(accts, "reader") || !strings.Contains(accts, "builder") {
		t.Errorf("account ls:\n%s", accts)
	}

	store := enginetest.Open(t, data).KV
	ids, err := identity.New(ctx, store, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.NewEngine(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	logins := map[string]string{"ci": "ci-password", "reader": readerPW, "robot": key, "admin": "admin-password"}
	who := map[string]identity.Principal{}
	for name, secret := range logins {
		p, err := ids.Login(ctx, name, secret)
		if err != nil {
			t.Fatalf("login %s: %v", name, err)
		}
		who[name] = p
	}
	if p := who["ci"]; p.Type != identity.System || len(p.Roles) != 1 || p.Roles[0] != "builder" {
		t.Errorf("ci is %+v", p)
	}
	for _, c := range []struct {
		who    string
		act    policy.Action
		repo   string
		allow  bool
		byRule string
	}{
		{"ci", policy.Push, "ci/app", true, "ci-push"},
		{"ci", policy.Push, "ci/team/app", false, ""}, // ci/* stops at one level
		{"ci", policy.Pull, "ci/team/app", true, "system-pull"},
		{"ci", policy.Push, "prod/app", false, ""},
		{"reader", policy.Pull, "ci/app", true, "system-pull"},
		{"reader", policy.Push, "ci/app", false, ""},
		{"robot", policy.Pull, "ci/x/y", true, "system-pull"},
		{"admin", policy.Push, "prod/app", true, "builtin:admin"},
	} {
		p := who[c.who]
		d := pol.Evaluate(policy.Request{AccountID: p.ID, AccountType: p.Type, Roles: p.Roles, Action: c.act, Repository: c.repo})
		if d.Allowed != c.allow || (c.byRule != "" && (d.Rule == nil || d.Rule.ID != c.byRule)) {
			t.Errorf("%s %s %s: %s, want allowed=%t by %q", c.who, c.act, c.repo, d.Reason(), c.allow, c.byRule)
		}
	}
}
