package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

func TestAdminAPIAuth(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.Account("dev", identity.Human) // no admin role: the built-in policy lets humans pull and push, not administer

	r := ar.APIError("", "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	_ = r
	res := ar.Do("GET", apiv1.Prefix+"/status", nil)
	if c := servertest.Challenge(t, res); c["scope"] != auth.APIScope {
		t.Errorf("challenge %v, want scope %s", c, auth.APIScope)
	}
	ar.APIError(servertest.Basic("root", "wrong"), "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	e := ar.APIError(servertest.Basic("dev", "dev-password"), "GET", "/status", "", 403, apiv1.CodeDenied)
	if e.Detail["action"] != string(policy.Admin) {
		t.Errorf("denial detail %v", e.Detail)
	}
	if ar.Events.Count(audit.Denied, "denied") == 0 {
		t.Error("denial not audited")
	}

	// A token without the API scope is refused even for an admin; with it,
	// the policy decides.
	pull := ar.Token(root, "repository:a:pull")
	ar.APIError(servertest.Bearer(pull.Token), "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	api := ar.Token(root, auth.APIScope)
	if api.Scope != auth.APIScope {
		t.Fatalf("granted %q", api.Scope)
	}
	var st apiv1.Status
	ar.API(servertest.Bearer(api.Token), "GET", "/status", "", 200, &st)
	if st.Version != "test" || len(st.Jobs) == 0 {
		t.Errorf("status %+v", st)
	}
	devAPI := ar.Token(servertest.Basic("dev", "dev-password"), auth.APIScope)
	ar.APIError(servertest.Bearer(devAPI.Token), "GET", "/accounts", "", 403, apiv1.CodeDenied)

	// Unknown routes and methods answer in the API's format, not OCI's.
	ar.APIError(root, "GET", "/nope", "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "PUT", "/status", "", 405, apiv1.CodeMethodNotAllowed)
	// pprof is there, for admins only.
	if r := ar.Do("GET", apiv1.Prefix+"/debug/pprof/goroutine?debug=1", nil, "Authorization", root); r.Status != 200 || !strings.Contains(string(r.Body), "goroutine") {
		t.Errorf("pprof: %d %s", r.Status, servertest.Truncate(r.Body))
	}
	ar.APIError(servertest.Basic("dev", "dev-password"), "GET", "/debug/pprof/heap", "", 403, apiv1.CodeDenied)
}

func TestAdminAPIRepositories(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	for _, ref := range []string{"ci/app:v1", "ci/app:v2", "ci/tool:latest", "prod/app:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		ar.PushImage(root, repo, tag)
	}
	ar.Account("ci", identity.System)
	ar.Rule(policy.Rule{ID: "ci", Priority: 10, Subject: policy.Subject{AccountType: identity.System}, Actions: []policy.Action{policy.Pull, policy.Catalog, policy.Delete}, Repositories: []string{"ci/**"}})
	ar.Rule(policy.Rule{ID: "ci-catalog", Priority: 10, Subject: policy.Subject{AccountType: identity.System}, Actions: []policy.Action{policy.Catalog}})
	ci := servertest.Basic("ci", "ci-password")

	// Pages of one, following next.
	var names []string
	cursor := ""
	for range 10 {
		var p apiv1.RepositoryPage
		ar.API(root, "GET", "/repositories?n=1&cursor="+url.QueryEscape(cursor), "", 200, &p)
		for _, r := range p.Repositories {
			names = append(names, r.Name)
			if r.Tags == 0 || r.Manifests != int64(r.Tags) || r.SizeBytes == 0 || r.LastPush == nil {
				t.Errorf("repository %+v", r)
			}
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if strings.Join(names, ",") != "ci/app,ci/tool,prod/app" {
		t.Errorf("repositories %v", names)
	}
	// The list leaves out what the caller may not pull.
	var p apiv1.RepositoryPage
	ar.API(ci, "GET", "/repositories", "", 200, &p)
	if len(p.Repositories) != 2 || p.Repositories[1].Name != "ci/tool" {
		t.Errorf("ci sees %+v", p.Repositories)
	}
	ar.APIError("", "GET", "/repositories", "", 401, apiv1.CodeUnauthorized)
	ar.APIError(root, "GET", "/repositories?n=0", "", 400, apiv1.CodeBadRequest)
	ar.APIError(root, "GET", "/repositories?n=1001", "", 400, apiv1.CodeBadRequest)

	var repo apiv1.Repository
	ar.API(root, "GET", "/repositories/ci/app", "", 200, &repo)
	if repo.Name != "ci/app" || repo.Tags != 2 {
		t.Errorf("ci/app %+v", repo)
	}
	ar.APIError(root, "GET", "/repositories/nope", "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "GET", "/repositories/Bad..Name", "", 422, apiv1.CodeInvalid)
	ar.APIError(root, "GET", "/repositories/ci/app/-/bogus", "", 404, apiv1.CodeNotFound)
	ar.APIError(ci, "GET", "/repositories/prod/app", "", 403, apiv1.CodeDenied)

	var tags apiv1.TagPage
	ar.API(root, "GET", "/repositories/ci/app/-/tags?n=1", "", 200, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Name != "v1" || tags.Next != "v1" || !strings.HasPrefix(tags.Tags[0].Digest, "sha256:") {
		t.Fatalf("tags page %+v", tags)
	}
	tags = apiv1.TagPage{}
	ar.API(root, "GET", "/repositories/ci/app/-/tags?n=1&cursor=v1", "", 200, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Name != "v2" || tags.Next != "" {
		t.Fatalf("second tags page %+v", tags)
	}
	var tag apiv1.Tag
	ar.API(root, "GET", "/repositories/ci/app/-/tags/v2", "", 200, &tag)
	m := tag.Manifest
	if m == nil || m.Digest != tags.Tags[0].Digest || m.Config == nil || len(m.Layers) != 1 || len(m.Raw) == 0 || m.Tags[0] != "v2" {
		t.Fatalf("tag v2 %+v", tag)
	}
	if digest.FromBytes(m.Raw).String() != m.Digest {
		t.Error("the raw manifest is not the stored bytes")
	}
	var ms apiv1.ManifestPage
	ar.API(root, "GET", "/repositories/ci/app/-/manifests", "", 200, &ms)
	if len(ms.Manifests) != 2 || ms.Manifests[0].Size == 0 {
		t.Errorf("manifests %+v", ms)
	}
	var one apiv1.Manifest
	ar.API(root, "GET", "/repositories/ci/app/-/manifests/"+m.Digest, "", 200, &one)
	if one.Digest != m.Digest {
		t.Errorf("manifest by digest %+v", one)
	}
	ar.APIError(root, "GET", "/repositories/ci/app/-/manifests/sha256:nothex", "", 422, apiv1.CodeInvalid)
	ar.APIError(root, "GET", "/repositories/ci/app/-/tags/nope", "", 404, apiv1.CodeNotFound)

	// Deleting a tag, then a manifest with its tags; deletes are audited.
	ar.API(ci, "DELETE", "/repositories/ci/app/-/tags/v2", "", 204, nil)
	ar.APIError(root, "GET", "/repositories/ci/app/-/tags/v2", "", 404, apiv1.CodeNotFound)
	ar.API(ci, "DELETE", "/repositories/ci/app/-/manifests/"+ms.Manifests[0].Digest, "", 204, nil)
	ar.APIError(root, "DELETE", "/repositories/ci/app/-/manifests/"+ms.Manifests[0].Digest, "", 404, apiv1.CodeNotFound)
	if ar.Events.Count(audit.Delete, "success") != 2 {
		t.Errorf("%d delete events, want 2", ar.Events.Count(audit.Delete, "success"))
	}

	// Deleting a repository is a job, and needs the admin action.
	ar.APIError(ci, "DELETE", "/repositories/ci/tool", "", 403, apiv1.CodeDenied)
	var j apiv1.Job
	ar.API(root, "DELETE", "/repositories/ci/tool", "", 202, &j)
	if j.Kind != gc.RepoDeleteJob("ci/tool") {
		t.Fatalf("job %+v", j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := ar.Runner.Wait(ctx, j.Kind); err != nil || st.State != jobs.Succeeded {
		t.Fatalf("repository deletion: %+v %v", st, err)
	}
	ar.API(root, "GET", "/jobs/"+j.Kind, "", 200, &j)
	if j.State != "succeeded" || j.Result == nil {
		t.Errorf("job after the run %+v", j)
	}
	ar.APIError(root, "GET", "/repositories/ci/tool", "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "DELETE", "/repositories/ci/tool", "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "GET", "/jobs/nope", "", 404, apiv1.CodeNotFound)
}

func TestAdminAPIGC(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.PushImage(root, "a", "v1")
	var j apiv1.Job
	ar.API(root, "POST", "/gc", `{"dry_run": true}`, 202, &j)
	if j.Kind != gc.JobDryRun {
		t.Fatalf("dry run job %+v", j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ar.Runner.Wait(ctx, gc.JobDryRun); err != nil {
		t.Fatal(err)
	}
	var st apiv1.GCStatus
	ar.API(root, "GET", "/gc", "", 200, &st)
	var rep gc.Report
	if st.DryRun.State != "succeeded" || json.Unmarshal(st.DryRun.Result, &rep) != nil || !rep.DryRun || rep.Blobs != 2 || rep.Marked != 2 {
		t.Fatalf("gc status %+v (report %+v)", st, rep)
	}
	if st.GC.State != "idle" {
		t.Errorf("collection never ran, state %s", st.GC.State)
	}
	ar.API(root, "POST", "/gc", "", 202, &j) // an empty body is a real run
	if j.Kind != gc.JobCollect {
		t.Errorf("run job %+v", j)
	}
	if _, err := ar.Runner.Wait(ctx, gc.JobCollect); err != nil {
		t.Fatal(err)
	}
	ar.APIError(root, "POST", "/gc", `{"dry_run": "yes"}`, 400, apiv1.CodeBadRequest)
	ar.APIError(root, "POST", "/gc", `{"dryrun": true}`, 400, apiv1.CodeBadRequest)
	var jl apiv1.JobList
	ar.API(root, "GET", "/jobs", "", 200, &jl)
	if len(jl.Jobs) != 3 {
		t.Errorf("jobs %+v", jl.Jobs)
	}
	var h apiv1.EventPage
	ar.API(root, "GET", "/gc/history", "", 200, &h)
	if len(h.Events) != 0 {
		t.Errorf("history has %d events: the runner here audits none", len(h.Events))
	}
}

func TestAdminAPIPolicy(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.Account("bot", identity.System)
	var rl apiv1.RuleList
	ar.API(root, "GET", "/policy/rules", "", 200, &rl)
	if len(rl.Rules) != len(policy.BuiltIns()) || !rl.Rules[0].BuiltIn {
		t.Fatalf("rules %+v", rl)
	}
	const ruleJSON = `{"id":"ci","priority":10,"effect":"allow","subject":{"account_type":"system"},"actions":["pull","push"],"repositories":["ci/**"],"enabled":true}`
	var r apiv1.Rule
	ar.API(root, "POST", "/policy/rules", ruleJSON, 201, &r)
	if r.ID != "ci" || !r.Enabled {
		t.Errorf("created %+v", r)
	}
	ar.APIError(root, "POST", "/policy/rules", ruleJSON, 409, apiv1.CodeConflict)
	ar.APIError(root, "POST", "/policy/rules", `{"id":"x","effect":"allow","actions":["fly"]}`, 422, apiv1.CodeInvalid)
	ar.APIError(root, "POST", "/policy/rules", `{"id":"x","colour":"red"}`, 400, apiv1.CodeBadRequest)
	ar.APIError(root, "POST", "/policy/rules", `{"id":`, 400, apiv1.CodeBadRequest)
	ar.APIError(root, "POST", "/policy/rules", ``, 400, apiv1.CodeBadRequest)

	var d apiv1.Decision
	ar.API(root, "POST", "/policy/evaluate", `{"account":"bot","action":"push","repository":"ci/app"}`, 200, &d)
	if !d.Allowed || d.Rule == nil || d.Rule.ID != "ci" {
		t.Errorf("decision %+v", d)
	}
	d = apiv1.Decision{}
	ar.API(root, "POST", "/policy/evaluate", `{"account_type":"system","action":"push","repository":"prod/app"}`, 200, &d)
	if d.Allowed || d.Rule != nil || d.Reason == "" {
		t.Errorf("decision for prod %+v", d)
	}
	ar.APIError(root, "POST", "/policy/evaluate", `{"account":"nobody","action":"pull"}`, 404, apiv1.CodeNotFound)
	ar.APIError(root, "POST", "/policy/evaluate", `{"action":"fly"}`, 422, apiv1.CodeInvalid)

	ar.API(root, "PUT", "/policy/rules/ci", strings.Replace(ruleJSON, `"priority":10`, `"priority":5`, 1), 200, &r)
	if r.Priority != 5 {
		t.Errorf("replaced %+v", r)
	}
	ar.APIError(root, "PUT", "/policy/rules/other", strings.Replace(ruleJSON, `"ci"`, `"other"`, 1), 404, apiv1.CodeNotFound)
	ar.APIError(root, "PUT", "/policy/rules/ci", strings.Replace(ruleJSON, `"ci"`, `"other"`, 1), 422, apiv1.CodeInvalid)
	ar.API(root, "POST", "/policy/rules/ci/disable", "", 200, &r)
	ar.API(root, "POST", "/policy/evaluate", `{"account":"bot","action":"push","repository":"ci/app"}`, 200, &d)
	if r.Enabled || d.Allowed {
		t.Errorf("after disable: rule %+v decision %+v", r, d)
	}
	ar.API(root, "POST", "/policy/rules/ci/enable", "", 200, &r)
	ar.API(root, "GET", "/policy/rules/ci", "", 200, &r)
	if !r.Enabled {
		t.Error("enable did not stick")
	}
	ar.APIError(root, "DELETE", "/policy/rules/builtin:admin", "", 409, apiv1.CodeConflict)
	ar.API(root, "DELETE", "/policy/rules/ci", "", 204, nil)
	ar.APIError(root, "GET", "/policy/rules/ci", "", 404, apiv1.CodeNotFound)
	ar.APIError(root, "DELETE", "/policy/rules/ci", "", 404, apiv1.CodeNotFound)

	// The policy engine audits the changes with the API's caller.
	var p apiv1.EventPage
	wait.For(t, "the policy change events", func() bool {
		ar.API(root, "GET", "/audit?type=policy_changed&actor=root", "", 200, &p)
		return len(p.Events) >= 5
	})
	if len(p.Events) != 5 { // create, replace, disable, enable, delete
		t.Errorf("%d policy events by root, want 5: %+v", len(p.Events), p.Events)
	}
	// A rule is enabled, at the default priority, unless the body says otherwise.
	r = apiv1.Rule{}
	ar.API(root, "POST", "/policy/rules", `{"id":"quiet","effect":"deny","actions":["push"],"repositories":["prod/**"]}`, 201, &r)
	if !r.Enabled || r.Priority != apiv1.DefaultPriority {
		t.Errorf("a rule posted without enabled and priority: %+v", r)
	}
	ar.API(root, "PUT", "/policy/rules/quiet", `{"effect":"deny","actions":["push"],"repositories":["prod/**"],"enabled":false}`, 200, &r)
	if r.Enabled || r.ID != "quiet" {
		t.Errorf("replaced with enabled false: %+v", r)
	}
}

func TestAdminAPIAccounts(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	var ca apiv1.CreatedAccount
	ar.API(root, "POST", "/accounts", `{"name":"alice","type":"human"}`, 201, &ca)
	if ca.Password == "" || ca.Account.Name != "alice" || !ca.Account.Enabled {
		t.Fatalf("created %+v", ca)
	}
	alice := servertest.Basic("alice", ca.Password)
	if r := ar.Do("GET", "/v2/", nil, "Authorization", alice); r.Status != 200 {
		t.Errorf("the generated password does not log in: %d", r.Status)
	}
	ar.APIError(root, "POST", "/accounts", `{"name":"alice","type":"human","password":"long-enough"}`, 409, apiv1.CodeConflict)
	ar.APIError(root, "POST", "/accounts", `{"name":"-bad","type":"human","password":"long-enough"}`, 422, apiv1.CodeInvalid)
	ar.APIError(root, "POST", "/accounts", `{"name":"bob","type":"robot"}`, 422, apiv1.CodeInvalid)

	var acct apiv1.Account
	ar.API(root, "POST", "/accounts/alice/disable", "", 200, &acct)
	if acct.Enabled {
		t.Error("still enabled")
	}
	if r := ar.Do("GET", "/v2/", nil, "Authorization", alice); r.Status != 401 {
		t.Errorf("a disabled account logs in: %d", r.Status)
	}
	ar.API(root, "POST", "/accounts/"+ca.Account.ID+"/enable", "", 200, &acct) // by id as well as by name
	ar.APIError(root, "PUT", "/accounts/alice/password", `{"password":"short"}`, 422, apiv1.CodeInvalid)
	ar.API(root, "PUT", "/accounts/alice/password", `{"password":"a-new-password"}`, 204, nil)
	if r := ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "a-new-password")); r.Status != 200 {
		t.Errorf("new password: %d", r.Status)
	}

	ar.API(root, "POST", "/accounts", `{"name":"bot","type":"system"}`, 201, &ca)
	ar.APIError(root, "POST", "/accounts/alice/keys", `{}`, 422, apiv1.CodeInvalid)
	var ck apiv1.CreatedAccessKey
	ar.API(root, "POST", "/accounts/bot/keys", `{"description":"ci"}`, 201, &ck)
	if !strings.HasPrefix(ck.Secret, "mcr_") || ck.Key.Description != "ci" {
		t.Fatalf("key %+v", ck)
	}
	if r := ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("bot", ck.Secret)); r.Status != 200 {
		t.Errorf("access key login: %d", r.Status)
	}
	var kl apiv1.AccessKeyList
	ar.API(root, "GET", "/accounts/bot/keys", "", 200, &kl)
	if len(kl.Keys) != 1 || kl.Keys[0].Revoked != nil {
		t.Errorf("keys %+v", kl)
	}
	ar.APIError(root, "DELETE", "/accounts/alice/keys/"+ck.Key.ID, "", 404, apiv1.CodeNotFound)
	ar.API(root, "DELETE", "/accounts/bot/keys/"+ck.Key.ID, "", 204, nil)
	if r := ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("bot", ck.Secret)); r.Status != 401 {
		t.Errorf("revoked key logs in: %d", r.Status)
	}

	var al apiv1.AccountList
	ar.API(root, "GET", "/accounts", "", 200, &al)
	if len(al.Accounts) != 3 {
		t.Errorf("accounts %+v", al)
	}
	ar.API(root, "DELETE", "/accounts/alice", "", 204, nil)
	ar.APIError(root, "GET", "/accounts/alice", "", 404, apiv1.CodeNotFound)

	var p apiv1.EventPage
	wait.For(t, "the account change events", func() bool { // the journal writes behind the requests
		ar.API(root, "GET", "/audit?type=account_changed", "", 200, &p)
		return len(p.Events) >= 8
	})
	var acts []string
	for _, e := range p.Events {
		acts = append(acts, e.Action)
		if e.AccountName != "root" {
			t.Errorf("event by %q, want root", e.AccountName)
		}
	}
	if strings.Join(acts, ",") != "create,disable,enable,set_password,create,create_key,revoke_key,delete" {
		t.Errorf("account events %v", acts)
	}
}

func TestAdminAPIAudit(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	for i := range 3 {
		ar.API(root, "POST", "/accounts", `{"name":"u`+string(rune('0'+i))+`","type":"system"}`, 201, nil)
	}
	var p apiv1.EventPage
	wait.For(t, "the account change events", func() bool { // the journal writes behind the requests
		ar.API(root, "GET", "/audit?type=account_changed", "", 200, &p)
		return len(p.Events) == 3
	})
	ar.API(root, "GET", "/audit?type=account_changed&n=2", "", 200, &p)
	if p.Next == "" || p.Events[0].Seq >= p.Events[1].Seq || p.Events[1].Prev != p.Events[0].Hash && p.Events[1].Seq == p.Events[0].Seq+1 {
		t.Fatalf("first page %+v", p)
	}
	var p2 apiv1.EventPage
	ar.API(root, "GET", "/audit?type=account_changed&n=2&cursor="+url.QueryEscape(p.Next), "", 200, &p2)
	if len(p2.Events) != 1 || p2.Events[0].Seq <= p.Events[1].Seq {
		t.Fatalf("second page %+v", p2)
	}
	ar.APIError(root, "GET", "/audit?cursor=garbage", "", 400, apiv1.CodeBadRequest)
	ar.APIError(root, "GET", "/audit?since=yesterday", "", 400, apiv1.CodeBadRequest)
	ar.APIError(root, "GET", "/audit?wait=5m", "", 400, apiv1.CodeBadRequest)
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	ar.API(root, "GET", "/audit?since="+future, "", 200, &p)
	if len(p.Events) != 0 {
		t.Errorf("events from the future: %+v", p.Events)
	}

	// Following: a long poll from the end returns the next matching event
	// as soon as it is written.
	end := p2.Events[0].Cursor
	got := make(chan apiv1.EventPage, 1)
	go func() {
		var f apiv1.EventPage
		r := ar.Do("GET", apiv1.Prefix+"/audit?type=account_changed&wait=20s&cursor="+url.QueryEscape(end), nil, "Authorization", root)
		_ = json.Unmarshal(r.Body, &f)
		got <- f
	}()
	wait.For(t, "the long poll to wait for a commit", func() bool { return ar.Journal.Stats().Following == 1 })
	ar.API(root, "POST", "/accounts", `{"name":"late","type":"system"}`, 201, nil)
	select {
	case f := <-got:
		if len(f.Events) != 1 || !strings.Contains(f.Events[0].Detail, "late") || f.Next != f.Events[0].Cursor {
			t.Errorf("followed %+v", f)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the long poll did not return the new event")
	}

	var v apiv1.Verification
	ar.API(root, "GET", "/audit/verify", "", 200, &v)
	if !v.OK || v.Events == 0 {
		t.Fatalf("verify %+v", v)
	}
	// Tampering with a stored event is found.
	err := ar.Stores.KV.Update(context.Background(), func(txn kv.Txn) error {
		var key, val []byte
		err := txn.Scan(kv.AuditPrefix(), nil, func(k, v []byte) error {
			if !strings.Contains(string(v), "account u1") {
				return nil
			}
			key, val = append([]byte(nil), k...), []byte(strings.Replace(string(v), "account u1", "account u9", 1))
			return kv.ErrStop
		})
		if err != nil || key == nil {
			return fmt.Errorf("no event to tamper with (%v)", err)
		}
		return txn.Set(key, val)
	})
	if err != nil {
		t.Fatal(err)
	}
	ar.API(root, "GET", "/audit/verify", "", 200, &v)
	if v.OK || v.Broken == nil {
		t.Errorf("tampered log verifies: %+v", v)
	}
}

func TestAdminAPISnapshot(t *testing.T) {
	ar, root := servertest.NewAdmin(t)
	ar.PushImage(root, "a", "v1")
	var s apiv1.Snapshot
	ar.API(root, "POST", "/snapshots", `{"dir":"nightly"}`, 201, &s)
	if s.Dir != filepath.Join(ar.Dir, "snapshots", "nightly") || s.Blobs != 2 || s.BlobBytes == 0 {
		t.Fatalf("snapshot %+v", s)
	}
	m, err := snapshot.ReadManifest(s.Dir)
	if err != nil || len(m.Blobs) != 2 {
		t.Fatalf("snapshot manifest %+v %v", m, err)
	}
	ar.APIError(root, "POST", "/snapshots", `{"dir":"nightly"}`, 409, apiv1.CodeConflict)
	ar.APIError(root, "POST", "/snapshots", `{"dir":"../escape"}`, 422, apiv1.CodeInvalid)
	ar.APIError(root, "POST", "/snapshots", `{}`, 422, apiv1.CodeInvalid)
	abs := filepath.Join(t.TempDir(), "abs")
	ar.API(root, "POST", "/snapshots", `{"dir":"`+abs+`"}`, 201, &s)
	if _, err := os.Stat(filepath.Join(abs, "backup")); err != nil && s.Dir != abs {
		t.Errorf("absolute snapshot %+v", s)
	}
	// Bodies are bounded.
	big := `{"dir":"` + strings.Repeat("x", 2<<20) + `"}`
	ar.APIError(root, "POST", "/snapshots", big, 413, apiv1.CodeTooLarge)
}

// Without authentication (auth mode none) the API is open, and the parts
// that need mcr's own accounts and policy say they are not managed here.
func TestAdminAPIAuthOff(t *testing.T) {
	runner := jobs.NewRunner(jobs.Options{Workers: 1})
	ar := servertest.Serve(t, servertest.Config{Server: func(tr *servertest.Registry, o *server.Options) {
		o.Admin = adminapi.New(adminapi.Deps{Deps: adminsvc.Deps{Registry: tr.Reg, Jobs: runner, Started: time.Now()}})
	}})
	if err := runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Stop(context.Background()) })
	ar.API("", "GET", "/status", "", 200, nil)
	ar.APIError("", "GET", "/accounts", "", 409, apiv1.CodeConflict)
	ar.APIError("", "GET", "/policy/rules", "", 409, apiv1.CodeConflict)
	ar.APIError("", "GET", "/audit", "", 409, apiv1.CodeConflict)
	ar.APIError("", "POST", "/gc", "", 404, apiv1.CodeNotFound) // no GC job registered on this runner
}
