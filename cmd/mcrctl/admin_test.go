package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func TestGC(t *testing.T) {
	pushImage(t, "gc/app", "v1", "gc content")
	admin(t, "tag", "rm", "gc/app:v1").ok(t) // the manifest stays; its blobs stay linked

	for _, dry := range []bool{true, false} {
		args := []string{"-o", "json", "gc", "run", "--wait"}
		kind := "gc"
		if dry {
			args = append(args, "--dry-run")
		}
		var j apiv1.Job
		admin(t, args...).ok(t).decode(t, &j)
		if j.State != "succeeded" || j.Finished == nil || j.Runs < 1 {
			t.Errorf("gc run %v: %+v", args, j)
		}
		var report map[string]any
		if err := json.Unmarshal(j.Result, &report); err != nil || len(report) == 0 {
			t.Errorf("gc run %v: result %s is not a report: %v", args, j.Result, err)
		}
		if !dry && !strings.Contains(j.Kind, kind) {
			t.Errorf("gc job kind %q", j.Kind)
		}
	}
	var st apiv1.GCStatus
	admin(t, "-o", "json", "gc", "status").ok(t).decode(t, &st)
	if st.GC.State != "succeeded" || st.GC.Runs < 1 || st.DryRun.State != "succeeded" || st.DryRun.Runs < 1 || st.Uploads.Kind == "" {
		t.Errorf("gc status: %+v", st)
	}
	if r := admin(t, "gc", "status").ok(t); !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("gc status table:\n%s", r.stdout)
	}
	// --wait without -o json: the one-line summary.
	r := admin(t, "gc", "run", "--wait").ok(t)
	if !regexp.MustCompile(`^swept \d+ blobs?, [0-9.]+ [KMG]?i?B reclaimed; \d+ kept`).MatchString(r.stdout) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("gc run --wait summary: %q", r.stdout)
	}
	// Without --wait: the queued (or already finished) job.
	var j apiv1.Job
	admin(t, "-o", "json", "gc", "run", "--dry-run").ok(t).decode(t, &j)
	if j.Kind == "" || j.State == "" || j.State == "failed" {
		t.Errorf("gc run without --wait: %+v", j)
	}
}

func TestPolicy(t *testing.T) {
	var l apiv1.RuleList
	admin(t, "-o", "json", "policy", "ls").ok(t).decode(t, &l)
	builtin := ""
	for _, r := range l.Rules {
		if r.BuiltIn {
			builtin = r.ID
		}
	}
	if builtin == "" {
		t.Fatalf("no built-in rule listed: %+v", l)
	}
	admin(t, "policy", "rm", builtin).want(t, exitConflict, "CONFLICT")

	var r apiv1.Rule
	admin(t, "-o", "json", "policy", "add", "--id", "freeze", "--priority", "5", "--effect", "deny", "--actions", "push,delete",
		"--repositories", "frozen/**", "--role", "admin", "--description", "no pushes to frozen/").ok(t).decode(t, &r)
	if r.ID != "freeze" || r.Priority != 5 || r.Effect != "deny" || !r.Enabled || r.Subject.Role != "admin" ||
		strings.Join(r.Actions, ",") != "push,delete" || strings.Join(r.Repositories, ",") != "frozen/**" {
		t.Errorf("policy add: %+v", r)
	}
	admin(t, "policy", "add", "--id", "freeze", "--effect", "deny", "--actions", "push").want(t, exitConflict, "CONFLICT")
	admin(t, "policy", "add", "--id", "bad", "--effect", "deny", "--actions", "fly").want(t, exitError, "INVALID")

	// policy test names the deciding rule; denied is exit 1.
	var d apiv1.Decision
	res := admin(t, "-o", "json", "policy", "test", "--account", "admin", "--action", "push", "--repository", "frozen/app")
	if res.code != exitError {
		t.Errorf("a denied test: exit %d, want 1\n%s", res.code, res.stderr)
	}
	res.decode(t, &d)
	if d.Allowed || d.Rule == nil || d.Rule.ID != "freeze" || !strings.Contains(d.Reason, "freeze") {
		t.Errorf("decision: %+v", d)
	}
	admin(t, "-o", "json", "policy", "test", "--account-type", "human", "--role", "admin", "--action", "pull", "--repository", "frozen/app").ok(t).decode(t, &d)
	if !d.Allowed || d.Rule == nil || d.Rule.ID == "freeze" {
		t.Errorf("pull decision: %+v", d)
	}
	if out := admin(t, "policy", "test", "--account", "admin", "--action", "push", "--repository", "frozen/app").stdout; !strings.Contains(out, "denied") || !strings.Contains(out, "freeze") {
		t.Errorf("policy test table:\n%s", out)
	}

	// update with flags changes only those fields.
	admin(t, "-o", "json", "policy", "update", "freeze", "--priority", "7").ok(t).decode(t, &r)
	if r.Priority != 7 || r.Effect != "deny" || r.Description != "no pushes to frozen/" {
		t.Errorf("policy update: %+v", r)
	}
	admin(t, "-o", "json", "policy", "disable", "freeze").ok(t).decode(t, &r)
	if r.Enabled {
		t.Errorf("disable: %+v", r)
	}
	admin(t, "-o", "json", "policy", "test", "--account", "admin", "--action", "push", "--repository", "frozen/app").ok(t).decode(t, &d)
	if !d.Allowed {
		t.Errorf("a disabled rule still decides: %+v", d)
	}
	admin(t, "-o", "json", "policy", "enable", "freeze").ok(t).decode(t, &r)
	if !r.Enabled {
		t.Errorf("enable: %+v", r)
	}
	admin(t, "-o", "json", "policy", "show", "freeze").ok(t).decode(t, &r)
	if r.ID != "freeze" || r.Priority != 7 || !r.Enabled {
		t.Errorf("policy show: %+v", r)
	}

	// --file, for add and update; a document without "enabled" is enabled.
	f := filepath.Join(t.TempDir(), "rule.json")
	if err := os.WriteFile(f, []byte(`{"id": "ci-pull", "priority": 50, "effect": "allow", "subject": {"account_type": "system"}, "actions": ["pull"], "repositories": ["ci/**"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	admin(t, "-o", "json", "policy", "add", "--file", f).ok(t).decode(t, &r)
	if r.ID != "ci-pull" || r.Subject.AccountType != "system" || !r.Enabled {
		t.Errorf("policy add --file: %+v", r)
	}
	admin(t, "policy", "add", "--file", f, "--id", "x").want(t, exitUsage, "--file excludes")
	if err := os.WriteFile(f, []byte(`{"id": "ci-pull", "priority": 51, "effect": "allow", "subject": {"account_type": "system"}, "actions": ["pull", "push"], "repositories": ["ci/**"], "enabled": false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	admin(t, "-o", "json", "policy", "update", "ci-pull", "--file", f).ok(t).decode(t, &r)
	if r.Priority != 51 || len(r.Actions) != 2 || r.Enabled {
		t.Errorf("policy update --file: %+v", r)
	}
	// A document without "priority" gets the default, as --priority does;
	// "priority": 0 is kept.
	for _, c := range []struct {
		doc  string
		want int
	}{
		{`{"id": "no-prio", "effect": "allow", "actions": ["pull"], "repositories": ["x/**"]}`, apiv1.DefaultPriority},
		{`{"id": "zero-prio", "priority": 0, "effect": "allow", "actions": ["pull"], "repositories": ["x/**"]}`, 0},
	} {
		if err := os.WriteFile(f, []byte(c.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		admin(t, "-o", "json", "policy", "add", "--file", f).ok(t).decode(t, &r)
		if r.Priority != c.want {
			t.Errorf("policy add --file %s: priority %d, want %d", c.doc, r.Priority, c.want)
		}
		admin(t, "policy", "rm", r.ID).ok(t)
	}
	if out := admin(t, "policy", "ls").ok(t).stdout; !strings.Contains(out, "ci-pull") || !strings.Contains(out, "freeze") {
		t.Errorf("policy ls table:\n%s", out)
	}
	for _, id := range []string{"freeze", "ci-pull"} {
		admin(t, "policy", "rm", id).ok(t)
		admin(t, "policy", "show", id).want(t, exitNotFound, "NOT_FOUND")
	}
}

func TestAccounts(t *testing.T) {
	var ca apiv1.CreatedAccount
	admin(t, "-o", "json", "account", "add", "carol").ok(t).decode(t, &ca)
	if ca.Account.Name != "carol" || ca.Account.Type != "human" || !ca.Account.Enabled || len(ca.Password) < 12 {
		t.Errorf("account add (generated password): %+v", ca)
	}
	ctl(t, map[string]string{"MCR_CONFIG": srv.adminCfg}, "", "account", "add", "carol").want(t, exitConflict, "CONFLICT")
	// A chosen password, then a new one: login proves each.
	ctl(t, map[string]string{"MCR_CONFIG": srv.adminCfg}, "dave-password-1234567\n", "-o", "json", "account", "add", "dave", "--role", "admin", "--password-stdin").ok(t).decode(t, &ca)
	if ca.Password != "" || len(ca.Account.Roles) != 1 || ca.Account.Roles[0] != "admin" {
		t.Errorf("account add --password-stdin: %+v", ca)
	}
	daveCfg := filepath.Join(t.TempDir(), "dave.json")
	ctl(t, map[string]string{"MCR_CONFIG": daveCfg}, "dave-password-1234567", "login", "-u", "dave", "--password-stdin", srv.base).ok(t)
	ctl(t, map[string]string{"MCR_CONFIG": daveCfg}, "", "status").ok(t)
	ctl(t, map[string]string{"MCR_CONFIG": srv.adminCfg}, "dave-password-7654321\n", "account", "passwd", "dave", "--password-stdin").ok(t)
	ctl(t, map[string]string{"MCR_CONFIG": daveCfg}, "dave-password-1234567", "login", "-u", "dave", "--password-stdin", srv.base).want(t, exitUnauthorized, "UNAUTHORIZED")
	ctl(t, map[string]string{"MCR_CONFIG": daveCfg}, "dave-password-7654321", "login", "-u", "dave", "--password-stdin", srv.base).ok(t)

	// A disabled account's refresh token no longer works.
	var a apiv1.Account
	admin(t, "-o", "json", "account", "disable", "dave").ok(t).decode(t, &a)
	if a.Enabled || a.Name != "dave" {
		t.Errorf("disable: %+v", a)
	}
	ctl(t, map[string]string{"MCR_CONFIG": daveCfg}, "", "status").want(t, exitUnauthorized, "login")
	admin(t, "-o", "json", "account", "enable", "dave").ok(t).decode(t, &a)
	if !a.Enabled {
		t.Errorf("enable: %+v", a)
	}
	admin(t, "-o", "json", "account", "show", "dave").ok(t).decode(t, &a)
	if !a.Enabled || a.ID == "" {
		t.Errorf("show: %+v", a)
	}

	var l apiv1.AccountList
	admin(t, "-o", "json", "account", "ls").ok(t).decode(t, &l)
	names := map[string]bool{}
	for _, a := range l.Accounts {
		names[a.Name] = true
	}
	for _, n := range []string{"admin", "bob", "carol", "dave"} {
		if !names[n] {
			t.Errorf("account ls lacks %s: %+v", n, l)
		}
	}

	// Access keys of a system account: the secret logs in with Basic.
	admin(t, "account", "add", "robot", "--type", "system").ok(t)
	var ck apiv1.CreatedAccessKey
	admin(t, "-o", "json", "account", "key", "add", "robot", "--description", "ci").ok(t).decode(t, &ck)
	if ck.Key.ID == "" || ck.Key.Description != "ci" || !strings.HasPrefix(ck.Secret, "mcr_") {
		t.Errorf("key add: %+v", ck)
	}
	var kl apiv1.AccessKeyList
	admin(t, "-o", "json", "account", "key", "ls", "robot").ok(t).decode(t, &kl)
	if len(kl.Keys) != 1 || kl.Keys[0].ID != ck.Key.ID || kl.Keys[0].Revoked != nil {
		t.Errorf("key ls: %+v", kl)
	}
	admin(t, "account", "key", "rm", "robot", ck.Key.ID).ok(t)
	admin(t, "-o", "json", "account", "key", "ls", "robot").ok(t).decode(t, &kl)
	if len(kl.Keys) == 1 && kl.Keys[0].Revoked == nil {
		t.Errorf("key still live after rm: %+v", kl)
	}
	admin(t, "account", "key", "rm", "robot", "no-such-key").want(t, exitNotFound, "NOT_FOUND")

	for _, n := range []string{"carol", "dave", "robot"} {
		admin(t, "account", "rm", n).ok(t)
		admin(t, "account", "show", n).want(t, exitNotFound, "NOT_FOUND")
	}
}

func TestSnapshot(t *testing.T) {
	pushImage(t, "snap/app", "v1", "snapshot content")
	var s apiv1.Snapshot
	admin(t, "-o", "json", "snapshot", "create", "nightly").ok(t).decode(t, &s)
	// Under the data directory: every blob is hard-linked.
	if s.Dir != filepath.Join(srv.data, "snapshots", "nightly") || s.Blobs < 2 || s.BlobBytes <= 0 || s.Created.IsZero() ||
		s.Linked != s.Blobs || s.Copied != 0 || s.MetadataBytes <= 0 {
		t.Errorf("snapshot: %+v", s)
	}
	out := admin(t, "snapshot", "create", "weekly").ok(t).stdout
	if !regexp.MustCompile(`^snapshot \S+weekly: \d+ blobs \([0-9.]+ [KMG]?i?B; \d+ linked, 0 copied\), metadata [0-9.]+ [KMG]?i?B, at `).MatchString(out) {
		t.Errorf("snapshot line: %q", out)
	}
	if ents, err := os.ReadDir(s.Dir); err != nil || len(ents) == 0 {
		t.Errorf("snapshot dir %s: %v %v", s.Dir, ents, err)
	}
	admin(t, "snapshot", "create", "nightly").want(t, exitConflict, "CONFLICT")
}
