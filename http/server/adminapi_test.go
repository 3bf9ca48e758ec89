package server

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

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// adminAPI assembles the admin API as mcrsrv serve does, over a real job
// runner with the GC jobs registered.
func (ar *authRegistry) adminAPI(t *testing.T, reg *engine.Registry, blobs *blobstore.FS, a *auth.Auth, rec audit.Recorder) *adminapi.API {

	col := gc.New(ar.store, blobs, reg, gc.Options{Grace: time.Hour, UploadExpiry: time.Hour, Workers: 2})
	ar.runner = jobs.NewRunner(jobs.Options{Workers: 2, Store: gc.NewStatusStore(ar.store, nil)})
	for _, j := range col.Jobs(gc.Schedule{}) {
		if err := ar.runner.Register(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := ar.runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return adminapi.New(adminapi.Deps{Deps: adminsvc.Deps{
		Registry: reg, Jobs: ar.runner, GC: col, Identity: ar.ids, Policy: ar.pol, Journal: ar.journal, Audit: rec,
		Snapshot: func(ctx context.Context, dir string) (*snapshot.Manifest, error) {
			return snapshot.Create(ctx, ar.store, blobs, dir)
		},
		SnapshotDir: filepath.Join(ar.dataDir, "snapshots"),
		Version:     "test", Started: time.Now(),
	}, Authorizer: a})
}

func newAdminRegistry(t *testing.T) (*authRegistry, string) {
	t.Helper()
	ar := newAuthRegistry(t, authSetup{admin: true})
	ar.account("root", identity.Human, identity.RoleAdmin)
	return ar, basic("root", "root-password")
}

// api sends an admin API request and decodes a 2xx answer into out.
func (ar *authRegistry) api(cred, method, path, body string, status int, out any) resp {
	ar.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	var hdr []string
	if cred != "" {
		hdr = []string{"Authorization", cred}
	}
	r := ar.do(method, apiv1.Prefix+path, b, hdr...)
	if r.status != status {
		ar.t.Fatalf("%s %s: status %d (%s), want %d", method, path, r.status, truncate(r.body), status)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			ar.t.Fatalf("%s %s: decoding %s: %v", method, path, truncate(r.body), err)
		}
	}
	return r
}

// apiError asserts an error answer's status and code.
func (ar *authRegistry) apiError(cred, method, path, body string, status int, code string) apiv1.ErrorBody {
	ar.t.Helper()
	var e apiv1.Error
	ar.api(cred, method, path, body, status, &e)
	if e.Error.Code != code || e.Error.Message == "" {
		ar.t.Errorf("%s %s: error %+v, want code %s", method, path, e.Error, code)
	}
	return e.Error
}

func TestAdminAPIAuth(t *testing.T) {
	ar, root := newAdminRegistry(t)
	ar.account("dev", identity.Human) // no admin role: the built-in policy lets humans pull and push, not administer

	r := ar.apiError("", "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	_ = r
	res := ar.do("GET", apiv1.Prefix+"/status", nil)
	if c := challenge(t, res); c["scope"] != auth.APIScope {
		t.Errorf("challenge %v, want scope %s", c, auth.APIScope)
	}
	ar.apiError(basic("root", "wrong"), "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	e := ar.apiError(basic("dev", "dev-password"), "GET", "/status", "", 403, apiv1.CodeDenied)
	if e.Detail["action"] != string(policy.Admin) {
		t.Errorf("denial detail %v", e.Detail)
	}
	if ar.events.count(audit.Denied, "denied") == 0 {
		t.Error("denial not audited")
	}

	// A token without the API scope is refused even for an admin; with it,
	// the policy decides.
	pull := ar.token(root, "repository:a:pull")
	ar.apiError(bearer(pull.Token), "GET", "/status", "", 401, apiv1.CodeUnauthorized)
	api := ar.token(root, auth.APIScope)
	if api.Scope != auth.APIScope {
		t.Fatalf("granted %q", api.Scope)
	}
	var st apiv1.Status
	ar.api(bearer(api.Token), "GET", "/status", "", 200, &st)
	if st.Version != "test" || len(st.Jobs) == 0 {
		t.Errorf("status %+v", st)
	}
	devAPI := ar.token(basic("dev", "dev-password"), auth.APIScope)
	ar.apiError(bearer(devAPI.Token), "GET", "/accounts", "", 403, apiv1.CodeDenied)

	// Unknown routes and methods answer in the API's format, not OCI's.
	ar.apiError(root, "GET", "/nope", "", 404, apiv1.CodeNotFound)
	ar.apiError(root, "PUT", "/status", "", 405, apiv1.CodeMethodNotAllowed)
	// pprof is there, for admins only.
	if r := ar.do("GET", apiv1.Prefix+"/debug/pprof/goroutine?debug=1", nil, "Authorization", root); r.status != 200 || !strings.Contains(string(r.body), "goroutine") {
		t.Errorf("pprof: %d %s", r.status, truncate(r.body))
	}
	ar.apiError(basic("dev", "dev-password"), "GET", "/debug/pprof/heap", "", 403, apiv1.CodeDenied)
}

func TestAdminAPIRepositories(t *testing.T) {
	ar, root := newAdminRegistry(t)
	for _, ref := range []string{"ci/app:v1", "ci/app:v2", "ci/tool:latest", "prod/app:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		ar.pushImage(root, repo, tag)
	}
	ar.account("ci", identity.System)
	ar.rule(policy.Rule{ID: "ci", Priority: 10, Subject: policy.Subject{AccountType: identity.System}, Actions: []policy.Action{policy.Pull, policy.Catalog, policy.Delete}, Repositories: []string{"ci/**"}})
	ar.rule(policy.Rule{ID: "ci-catalog", Priority: 10, Subject: policy.Subject{AccountType: identity.System}, Actions: []policy.Action{policy.Catalog}})
	ci := basic("ci", "ci-password")

	// Pages of one, following next.
	var names []string
	cursor := ""
	for range 10 {
		var p apiv1.RepositoryPage
		ar.api(root, "GET", "/repositories?n=1&cursor="+url.QueryEscape(cursor), "", 200, &p)
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
	ar.api(ci, "GET", "/repositories", "", 200, &p)
	if len(p.Repositories) != 2 || p.Repositories[1].Name != "ci/tool" {
		t.Errorf("ci sees %+v", p.Repositories)
	}
	ar.apiError("", "GET", "/repositories", "", 401, apiv1.CodeUnauthorized)
	ar.apiError(root, "GET", "/repositories?n=0", "", 400, apiv1.CodeBadRequest)
	ar.apiError(root, "GET", "/repositories?n=1001", "", 400, apiv1.CodeBadRequest)

	var repo apiv1.Repository
	ar.api(root, "GET", "/repositories/ci/app", "", 200, &repo)
	if repo.Name != "ci/app" || repo.Tags != 2 {
		t.Errorf("ci/app %+v", repo)
	}
	ar.apiError(root, "GET", "/repositories/nope", "", 404, apiv1.CodeNotFound)
	ar.apiError(root, "GET", "/repositories/Bad..Name", "", 422, apiv1.CodeInvalid)
	ar.apiError(root, "GET", "/repositories/ci/app/-/bogus", "", 404, apiv1.CodeNotFound)
	ar.apiError(ci, "GET", "/repositories/prod/app", "", 403, apiv1.CodeDenied)

	var tags apiv1.TagPage
	ar.api(root, "GET", "/repositories/ci/app/-/tags?n=1", "", 200, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Name != "v1" || tags.Next != "v1" || !strings.HasPrefix(tags.Tags[0].Digest, "sha256:") {
		t.Fatalf("tags page %+v", tags)
	}
	tags = apiv1.TagPage{}
	ar.api(root, "GET", "/repositories/ci/app/-/tags?n=1&cursor=v1", "", 200, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Name != "v2" || tags.Next != "" {
		t.Fatalf("second tags page %+v", tags)
	}
	var tag apiv1.Tag
	ar.api(root, "GET", "/repositories/ci/app/-/tags/v2", "", 200, &tag)
	m := tag.Manifest
	if m == nil || m.Digest != tags.Tags[0].Digest || m.Config == nil || len(m.Layers) != 1 || len(m.Raw) == 0 || m.Tags[0] != "v2" {
		t.Fatalf("tag v2 %+v", tag)
	}
	if digest.FromBytes(m.Raw).String() != m.Digest {
		t.Error("the raw manifest is not the stored bytes")
	}
	var ms apiv1.ManifestPage
	ar.api(root, "GET", "/repositories/ci/app/-/manifests", "", 200, &ms)
	if len(ms.Manifests) != 2 || ms.Manifests[0].Size == 0 {
		t.Errorf("manifests %+v", ms)
	}
	var one apiv1.Manifest
	ar.api(root, "GET", "/repositories/ci/app/-/manifests/"+m.Digest, "", 200, &one)
	if one.Digest != m.Digest {
		t.Errorf("manifest by digest %+v", one)
	}
	ar.apiError(root, "GET", "/repositories/ci/app/-/manifests/sha256:nothex", "", 422, apiv1.CodeInvalid)
	ar.apiError(root, "GET", "/repositories/ci/app/-/tags/nope", "", 404, apiv1.CodeNotFound)

	// Deleting a tag, then a manifest with its tags; deletes are audited.
	ar.api(ci, "DELETE", "/repositories/ci/app/-/tags/v2", "", 204, nil)
	ar.apiError(root, "GET", "/repositories/ci/app/-/tags/v2", "", 404, apiv1.CodeNotFound)
	ar.api(ci, "DELETE", "/repositories/ci/app/-/manifests/"+ms.Manifests[0].Digest, "", 204, nil)
	ar.apiError(root, "DELETE", "/repositories/ci/app/-/manifests/"+ms.Manifests[0].Digest, "", 404, apiv1.CodeNotFound)
	if ar.events.count(audit.Delete, "success") != 2 {
		t.Errorf("%d delete events, want 2", ar.events.count(audit.Delete, "success"))
	}

	// Deleting a repository is a job, and needs the admin action.
	ar.apiError(ci, "DELETE", "/repositories/ci/tool", "", 403, apiv1.CodeDenied)
	var j apiv1.Job
	ar.api(root, "DELETE", "/repositories/ci/tool", "", 202, &j)
	if j.Kind != adminapi.RepoDeleteJob("ci/tool") {
		t.Fatalf("job %+v", j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := ar.runner.Wait(ctx, j.Kind); err != nil || st.State != jobs.Succeeded {
		t.Fatalf("repository deletion: %+v %v", st, err)
	}
	ar.api(root, "GET", "/jobs/"+j.Kind, "", 200, &j)
	if j.State != "succeeded" || j.Result == nil {
		t.Errorf("job after the run %+v", j)
	}
	ar.apiError(root, "GET", "/repositories/ci/tool", "", 404, apiv1.CodeNotFound)
	ar.apiError(root, "DELETE", "/repositories/ci/tool", "", 404, apiv1.CodeNotFound)
	ar.apiError(root, "GET", "/jobs/nope", "", 404, apiv1.CodeNotFound)
}

func TestAdminAPIGC(t *testing.T) {
	ar, root := newAdminRegistry(t)
	ar.pushImage(root, "a", "v1")
	var j apiv1.Job
	ar.api(root, "POST", "/gc", `{"dry_run": true}`, 202, &j)
	if j.Kind != gc.JobDryRun {
		t.Fatalf("dry run job %+v", j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ar.runner.Wait(ctx, gc.JobDryRun); err != nil {
		t.Fatal(err)
	}
	var st apiv1.GCStatus
	ar.api(root, "GET", "/gc", "", 200, &st)
	var rep gc.Report
	if st.DryRun.State != "succeeded" || json.Unmarshal(st.DryRun.Result, &rep) != nil || !rep.DryRun || rep.Blobs != 2 || rep.Marked != 2 {
		t.Fatalf("gc status %+v (report %+v)", st, rep)
	}
	if st.GC.State != "idle" {
		t.Errorf("collection never ran, state %s", st.GC.State)
	}
	ar.api(root, "POST", "/gc", "", 202, &j) // an empty body is a real run
	if j.Kind != gc.JobCollect {
		t.Errorf("run job %+v", j)
	}
	if _, err := ar.runner.Wait(ctx, gc.JobCollect); err != nil {
		t.Fatal(err)
	}
	ar.apiError(root, "POST", "/gc", `{"dry_run": "yes"}`, 400, apiv1.CodeBadRequest)
	ar.apiError(root, "POST", "/gc", `{"dryrun": true}`, 400, apiv1.CodeBadRequest)
	var jl apiv1.JobList
	ar.api(root, "GET", "/jobs", "", 200, &jl)
	if len(jl.Jobs) != 3 {
		t.Errorf("jobs %+v", jl.Jobs)
	}
	var h apiv1.EventPage
	ar.api(root, "GET", "/gc/history", "", 200, &h)
	if len(h.Events) != 0 {
		t.Errorf("history has %d events: the runner here audits none", len(h.Events))
	}
}

func TestAdminAPIPolicy(t *testing.T) {
	ar, root := newAdminRegistry(t)
	ar.account("bot", identity.System)
	var rl apiv1.RuleList
	ar.api(root, "GET", "/policy/rules", "", 200, &rl)
	if len(rl.Rules) != len(policy.BuiltIns()) || !rl.Rules[0].BuiltIn {
		t.Fatalf("rules %+v", rl)
	}
	const ruleJSON = `{"id":"ci","priority":10,"effect":"allow","subject":{"account_type":"system"},"actions":["pull","push"],"repositories":["ci/**"],"enabled":true}`
	var r apiv1.Rule
	ar.api(root, "POST", "/policy/rules", ruleJSON, 201, &r)
	if r.ID != "ci" || !r.Enabled {
		t.Errorf("created %+v", r)
	}
	ar.apiError(root, "POST", "/policy/rules", ruleJSON, 409, apiv1.CodeConflict)
	ar.apiError(root, "POST", "/policy/rules", `{"id":"x","effect":"allow","actions":["fly"]}`, 422, apiv1.CodeInvalid)
	ar.apiError(root, "POST", "/policy/rules", `{"id":"x","colour":"red"}`, 400, apiv1.CodeBadRequest)
	ar.apiError(root, "POST", "/policy/rules", `{"id":`, 400, apiv1.CodeBadRequest)
	ar.apiError(root, "POST", "/policy/rules", ``, 400, apiv1.CodeBadRequest)

	var d apiv1.Decision
	ar.api(root, "POST", "/policy/evaluate", `{"account":"bot","action":"push","repository":"ci/app"}`, 200, &d)
	if !d.Allowed || d.Rule == nil || d.Rule.ID != "ci" {
		t.Errorf("decision %+v", d)
	}
	d = apiv1.Decision{}
	ar.api(root, "POST", "/policy/evaluate", `{"account_type":"system","action":"push","repository":"prod/app"}`, 200, &d)
	if d.Allowed || d.Rule != nil || d.Reason == "" {
		t.Errorf("decision for prod %+v", d)
	}
	ar.apiError(root, "POST", "/policy/evaluate", `{"account":"nobody","action":"pull"}`, 404, apiv1.CodeNotFound)
	ar.apiError(root, "POST", "/policy/evaluate", `{"action":"fly"}`, 422, apiv1.CodeInvalid)

	ar.api(root, "PUT", "/policy/rules/ci", strings.Replace(ruleJSON, `"priority":10`, `"priority":5`, 1), 200, &r)
	if r.Priority != 5 {
		t.Errorf("replaced %+v", r)
	}
	ar.apiError(root, "PUT", "/policy/rules/other", strings.Replace(ruleJSON, `"ci"`, `"other"`, 1), 404, apiv1.CodeNotFound)
	ar.apiError(root, "PUT", "/policy/rules/ci", strings.Replace(ruleJSON, `"ci"`, `"other"`, 1), 422, apiv1.CodeInvalid)
	ar.api(root, "POST", "/policy/rules/ci/disable", "", 200, &r)
	ar.api(root, "POST", "/policy/evaluate", `{"account":"bot","action":"push","repository":"ci/app"}`, 200, &d)
	if r.Enabled || d.Allowed {
		t.Errorf("after disable: rule %+v decision %+v", r, d)
	}
	ar.api(root, "POST", "/policy/rules/ci/enable", "", 200, &r)
	ar.api(root, "GET", "/policy/rules/ci", "", 200, &r)
	if !r.Enabled {
		t.Error("enable did not stick")
	}
	ar.apiError(root, "DELETE", "/policy/rules/builtin:admin", "", 409, apiv1.CodeConflict)
	ar.api(root, "DELETE", "/policy/rules/ci", "", 204, nil)
	ar.apiError(root, "GET", "/policy/rules/ci", "", 404, apiv1.CodeNotFound)
	ar.apiError(root, "DELETE", "/policy/rules/ci", "", 404, apiv1.CodeNotFound)

	// The policy engine audits the changes with the API's caller.
	var p apiv1.EventPage
	waitFor(t, func() bool {
		ar.api(root, "GET", "/audit?type=policy_changed&actor=root", "", 200, &p)
		return len(p.Events) >= 5
	})
	if len(p.Events) != 5 { // create, replace, disable, enable, delete
		t.Errorf("%d policy events by root, want 5: %+v", len(p.Events), p.Events)
	}
	// A rule is enabled, at the default priority, unless the body says otherwise.
	r = apiv1.Rule{}
	ar.api(root, "POST", "/policy/rules", `{"id":"quiet","effect":"deny","actions":["push"],"repositories":["prod/**"]}`, 201, &r)
	if !r.Enabled || r.Priority != apiv1.DefaultPriority {
		t.Errorf("a rule posted without enabled and priority: %+v", r)
	}
	ar.api(root, "PUT", "/policy/rules/quiet", `{"effect":"deny","actions":["push"],"repositories":["prod/**"],"enabled":false}`, 200, &r)
	if r.Enabled || r.ID != "quiet" {
		t.Errorf("replaced with enabled false: %+v", r)
	}
}

func TestAdminAPIAccounts(t *testing.T) {
	ar, root := newAdminRegistry(t)
	var ca apiv1.CreatedAccount
	ar.api(root, "POST", "/accounts", `{"name":"alice","type":"human"}`, 201, &ca)
	if ca.Password == "" || ca.Account.Name != "alice" || !ca.Account.Enabled {
		t.Fatalf("created %+v", ca)
	}
	alice := basic("alice", ca.Password)
	if r := ar.do("GET", "/v2/", nil, "Authorization", alice); r.status != 200 {
		t.Errorf("the generated password does not log in: %d", r.status)
	}
	ar.apiError(root, "POST", "/accounts", `{"name":"alice","type":"human","password":"long-enough"}`, 409, apiv1.CodeConflict)
	ar.apiError(root, "POST", "/accounts", `{"name":"-bad","type":"human","password":"long-enough"}`, 422, apiv1.CodeInvalid)
	ar.apiError(root, "POST", "/accounts", `{"name":"bob","type":"robot"}`, 422, apiv1.CodeInvalid)

	var acct apiv1.Account
	ar.api(root, "POST", "/accounts/alice/disable", "", 200, &acct)
	if acct.Enabled {
		t.Error("still enabled")
	}
	if r := ar.do("GET", "/v2/", nil, "Authorization", alice); r.status != 401 {
		t.Errorf("a disabled account logs in: %d", r.status)
	}
	ar.api(root, "POST", "/accounts/"+ca.Account.ID+"/enable", "", 200, &acct) // by id as well as by name
	ar.apiError(root, "PUT", "/accounts/alice/password", `{"password":"short"}`, 422, apiv1.CodeInvalid)
	ar.api(root, "PUT", "/accounts/alice/password", `{"password":"a-new-password"}`, 204, nil)
	if r := ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "a-new-password")); r.status != 200 {
		t.Errorf("new password: %d", r.status)
	}

	ar.api(root, "POST", "/accounts", `{"name":"bot","type":"system"}`, 201, &ca)
	ar.apiError(root, "POST", "/accounts/alice/keys", `{}`, 422, apiv1.CodeInvalid)
	var ck apiv1.CreatedAccessKey
	ar.api(root, "POST", "/accounts/bot/keys", `{"description":"ci"}`, 201, &ck)
	if !strings.HasPrefix(ck.Secret, "mcr_") || ck.Key.Description != "ci" {
		t.Fatalf("key %+v", ck)
	}
	if r := ar.do("GET", "/v2/", nil, "Authorization", basic("bot", ck.Secret)); r.status != 200 {
		t.Errorf("access key login: %d", r.status)
	}
	var kl apiv1.AccessKeyList
	ar.api(root, "GET", "/accounts/bot/keys", "", 200, &kl)
	if len(kl.Keys) != 1 || kl.Keys[0].Revoked != nil {
		t.Errorf("keys %+v", kl)
	}
	ar.apiError(root, "DELETE", "/accounts/alice/keys/"+ck.Key.ID, "", 404, apiv1.CodeNotFound)
	ar.api(root, "DELETE", "/accounts/bot/keys/"+ck.Key.ID, "", 204, nil)
	if r := ar.do("GET", "/v2/", nil, "Authorization", basic("bot", ck.Secret)); r.status != 401 {
		t.Errorf("revoked key logs in: %d", r.status)
	}

	var al apiv1.AccountList
	ar.api(root, "GET", "/accounts", "", 200, &al)
	if len(al.Accounts) != 3 {
		t.Errorf("accounts %+v", al)
	}
	ar.api(root, "DELETE", "/accounts/alice", "", 204, nil)
	ar.apiError(root, "GET", "/accounts/alice", "", 404, apiv1.CodeNotFound)

	var p apiv1.EventPage
	waitFor(t, func() bool { // the journal writes behind the requests
		ar.api(root, "GET", "/audit?type=account_changed", "", 200, &p)
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
	ar, root := newAdminRegistry(t)
	for i := range 3 {
		ar.api(root, "POST", "/accounts", `{"name":"u`+string(rune('0'+i))+`","type":"system"}`, 201, nil)
	}
	var p apiv1.EventPage
	waitFor(t, func() bool { // the journal writes behind the requests
		ar.api(root, "GET", "/audit?type=account_changed", "", 200, &p)
		return len(p.Events) == 3
	})
	ar.api(root, "GET", "/audit?type=account_changed&n=2", "", 200, &p)
	if p.Next == "" || p.Events[0].Seq >= p.Events[1].Seq || p.Events[1].Prev != p.Events[0].Hash && p.Events[1].Seq == p.Events[0].Seq+1 {
		t.Fatalf("first page %+v", p)
	}
	var p2 apiv1.EventPage
	ar.api(root, "GET", "/audit?type=account_changed&n=2&cursor="+url.QueryEscape(p.Next), "", 200, &p2)
	if len(p2.Events) != 1 || p2.Events[0].Seq <= p.Events[1].Seq {
		t.Fatalf("second page %+v", p2)
	}
	ar.apiError(root, "GET", "/audit?cursor=garbage", "", 400, apiv1.CodeBadRequest)
	ar.apiError(root, "GET", "/audit?since=yesterday", "", 400, apiv1.CodeBadRequest)
	ar.apiError(root, "GET", "/audit?wait=5m", "", 400, apiv1.CodeBadRequest)
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	ar.api(root, "GET", "/audit?since="+future, "", 200, &p)
	if len(p.Events) != 0 {
		t.Errorf("events from the future: %+v", p.Events)
	}

	// Following: a long poll from the end returns the next matching event
	// as soon as it is written.
	end := p2.Events[0].Cursor
	got := make(chan apiv1.EventPage, 1)
	go func() {
		var f apiv1.EventPage
		r := ar.do("GET", apiv1.Prefix+"/audit?type=account_changed&wait=20s&cursor="+url.QueryEscape(end), nil, "Authorization", root)
		_ = json.Unmarshal(r.body, &f)
		got <- f
	}()
	time.Sleep(100 * time.Millisecond)
	ar.api(root, "POST", "/accounts", `{"name":"late","type":"system"}`, 201, nil)
	select {
	case f := <-got:
		if len(f.Events) != 1 || !strings.Contains(f.Events[0].Detail, "late") || f.Next != f.Events[0].Cursor {
			t.Errorf("followed %+v", f)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the long poll did not return the new event")
	}

	var v apiv1.Verification
	ar.api(root, "GET", "/audit/verify", "", 200, &v)
	if !v.OK || v.Events == 0 {
		t.Fatalf("verify %+v", v)
	}
	// Tampering with a stored event is found.
	err := ar.store.Update(context.Background(), func(txn kv.Txn) error {
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
	ar.api(root, "GET", "/audit/verify", "", 200, &v)
	if v.OK || v.Broken == nil {
		t.Errorf("tampered log verifies: %+v", v)
	}
}

func TestAdminAPISnapshot(t *testing.T) {
	ar, root := newAdminRegistry(t)
	ar.pushImage(root, "a", "v1")
	var s apiv1.Snapshot
	ar.api(root, "POST", "/snapshots", `{"dir":"nightly"}`, 201, &s)
	if s.Dir != filepath.Join(ar.dataDir, "snapshots", "nightly") || s.Blobs != 2 || s.BlobBytes == 0 {
		t.Fatalf("snapshot %+v", s)
	}
	m, err := snapshot.ReadManifest(s.Dir)
	if err != nil || len(m.Blobs) != 2 {
		t.Fatalf("snapshot manifest %+v %v", m, err)
	}
	ar.apiError(root, "POST", "/snapshots", `{"dir":"nightly"}`, 409, apiv1.CodeConflict)
	ar.apiError(root, "POST", "/snapshots", `{"dir":"../escape"}`, 422, apiv1.CodeInvalid)
	ar.apiError(root, "POST", "/snapshots", `{}`, 422, apiv1.CodeInvalid)
	abs := filepath.Join(t.TempDir(), "abs")
	ar.api(root, "POST", "/snapshots", `{"dir":"`+abs+`"}`, 201, &s)
	if _, err := os.Stat(filepath.Join(abs, "backup")); err != nil && s.Dir != abs {
		t.Errorf("absolute snapshot %+v", s)
	}
	// Bodies are bounded.
	big := `{"dir":"` + strings.Repeat("x", 2<<20) + `"}`
	ar.apiError(root, "POST", "/snapshots", big, 413, apiv1.CodeTooLarge)
}

// Without authentication (auth mode none) the API is open, and the parts
// that need mcr's own accounts and policy say they are not managed here.
func TestAdminAPIAuthOff(t *testing.T) {
	var api *adminapi.API
	dir, store, blobs := openTestStores(t)
	runner := jobs.NewRunner(jobs.Options{Workers: 1})
	tr := serveTestRegistry(t, dir, store, blobs, engine.Options{}, func(reg *engine.Registry, o *Options) {
		api = adminapi.New(adminapi.Deps{Deps: adminsvc.Deps{Registry: reg, Jobs: runner, GC: gc.New(store, blobs, reg, gc.DefaultOptions()), Started: time.Now()}})
		o.Admin = api
	})
	if err := runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Stop(context.Background()) })
	ar := &authRegistry{testRegistry: tr}
	ar.api("", "GET", "/status", "", 200, nil)
	ar.apiError("", "GET", "/accounts", "", 409, apiv1.CodeConflict)
	ar.apiError("", "GET", "/policy/rules", "", 409, apiv1.CodeConflict)
	ar.apiError("", "GET", "/audit", "", 409, apiv1.CodeConflict)
	ar.apiError("", "POST", "/gc", "", 404, apiv1.CodeNotFound) // no GC job registered on this runner
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 2 s")
}
