package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// TestPolicyPages drives the rule form and the policy test: create,
// disable, enable, edit, delete, each visible in the policy engine.
func TestPolicyPages(t *testing.T) {
	e := newEnv(t)
	bot := e.Account("bot", identity.System)
	b := e.signedIn(t, "admin")
	csrf := b.csrf()
	test := func() string {
		t.Helper()
		p := b.post("/ui/policy/test", url.Values{"csrf": {csrf}, "who": {"bot"}, "action": {"push"}, "repository": {"ci/app"}})
		return p.mustStatus(t, http.StatusOK).body
	}
	if body := test(); !strings.Contains(body, "Denied: no rule allows it") {
		t.Fatalf("before any rule:\n%s", body)
	}
	b.post("/ui/policy/rules", url.Values{"csrf": {csrf}, "id": {"bot-push"}, "priority": {"5"}, "effect": {"allow"},
		"account": {bot.ID}, "action": {"pull", "push"}, "repositories": {"ci/*, ci/**"}, "enabled": {"on"}}).mustStatus(t, http.StatusSeeOther)
	r, ok := e.Policy.Rule("bot-push")
	if !ok || r.Priority != 5 || len(r.Actions) != 2 || len(r.Repositories) != 2 || !r.Enabled {
		t.Fatalf("created rule: %+v %v", r, ok)
	}
	if body := test(); !strings.Contains(body, `<span id="deciding-rule">bot-push</span>`) || !strings.Contains(body, "Allowed") {
		t.Fatalf("after the rule:\n%s", body)
	}
	b.post("/ui/policy/rules/bot-push/disable", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusSeeOther)
	if r, _ := e.Policy.Rule("bot-push"); r.Enabled {
		t.Error("disable did not disable")
	}
	b.post("/ui/policy/rules/bot-push/enable", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusSeeOther)
	edit := b.get("/ui/policy/rules/bot-push").mustStatus(t, http.StatusOK)
	if !strings.Contains(edit.body, `name="replace" value="1"`) {
		t.Fatal("the edit form does not replace")
	}
	b.post("/ui/policy/rules", url.Values{"csrf": {csrf}, "replace": {"1"}, "id": {"bot-push"}, "priority": {"7"}, "effect": {"deny"},
		"account": {bot.ID}, "action": {"push"}, "repositories": {"ci/**"}, "enabled": {"on"}}).mustStatus(t, http.StatusSeeOther)
	if r, _ := e.Policy.Rule("bot-push"); r.Priority != 7 || r.Effect != policy.Deny {
		t.Errorf("edited rule: %+v", r)
	}
	b.post("/ui/policy/rules", url.Values{"csrf": {csrf}, "id": {"bad rule"}, "effect": {"allow"}, "action": {"pull"}}).mustStatus(t, http.StatusBadRequest)
	b.post("/ui/policy/rules/bot-push/delete", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusSeeOther)
	if _, ok := e.Policy.Rule("bot-push"); ok {
		t.Error("delete did not delete")
	}
	b.post("/ui/policy/rules/builtin:admin/delete", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusConflict)
}

// TestAccessKeys creates a key in the UI, signs in with it (the key is
// the password of the system account), and revokes it.
func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	bot := e.Account("bot", identity.System)
	b := e.signedIn(t, "admin")
	csrf := b.csrf()
	p := b.post("/ui/accounts/"+bot.ID+"/keys", url.Values{"csrf": {csrf}, "description": {"ci"}}).mustStatus(t, http.StatusCreated)
	secret := p.valueOf(t, "secret")
	if !strings.HasPrefix(secret, "mcr_") {
		t.Fatalf("secret %q", secret)
	}
	if again := b.get("/ui/accounts/" + bot.ID); strings.Contains(again.body, secret) {
		t.Error("the secret is shown twice")
	}
	if _, err := e.IDs.Login(context.Background(), "bot", secret); err != nil {
		t.Fatalf("the UI's key does not log in: %v", err)
	}
	keys, err := e.IDs.AccessKeys(context.Background(), bot.ID)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	b.post("/ui/accounts/"+bot.ID+"/keys/"+keys[0].ID+"/revoke", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusSeeOther)
	if _, err := e.IDs.Login(context.Background(), "bot", secret); err == nil {
		t.Error("a revoked key still logs in")
	}
	admin := must(e.IDs.AccountByName(context.Background(), "admin"))
	b.post("/ui/accounts/"+admin.ID+"/keys/"+keys[0].ID+"/revoke", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusNotFound)
	b.post("/ui/accounts/"+admin.ID+"/keys", url.Values{"csrf": {csrf}}).mustStatus(t, http.StatusBadRequest)
}
