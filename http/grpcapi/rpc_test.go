package grpcapi_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// Every RPC of RegistryService: success, validation, not found.
func TestRegistryService(t *testing.T) {
	e := newEnv(t)
	root := e.token(e.Account("root", identity.Human, identity.RoleAdmin))
	ctx := as(root)
	dgst := e.push("team/app", "v1")
	e.push("team/app", "v2")
	e.push("other/lib", "1.0")

	st, err := e.registry.GetStatus(ctx, &mcrv1.GetStatusRequest{})
	if err != nil || st.Version != "test" || st.Repositories != 2 || st.Tags != 3 || st.Storage.GetBlobBytes() == 0 {
		t.Fatalf("status %v %v", st, err)
	}
	if l := st.GetLeader(); l.GetReplica() != "host/127.0.0.1:5000" || l.GetTerm() != 7 || !l.GetSelf() || l.GetExpires() != nil {
		t.Fatalf("status leader %v", l)
	}

	repos, err := e.registry.ListRepositories(ctx, &mcrv1.ListRepositoriesRequest{PageSize: 1})
	if err != nil || len(repos.Repositories) != 1 || repos.NextCursor == "" {
		t.Fatalf("first page %v %v", repos, err)
	}
	rest, err := e.registry.ListRepositories(ctx, &mcrv1.ListRepositoriesRequest{Cursor: repos.NextCursor})
	if err != nil || len(rest.Repositories) != 1 || rest.NextCursor != "" || rest.Repositories[0].Name == repos.Repositories[0].Name {
		t.Fatalf("second page %v %v", rest, err)
	}
	_, err = e.registry.ListRepositories(ctx, &mcrv1.ListRepositoriesRequest{PageSize: 1001})
	wantCode(t, "page size 1001", err, codes.InvalidArgument)

	r, err := e.registry.GetRepository(ctx, &mcrv1.GetRepositoryRequest{Repository: "team/app"})
	if err != nil || r.Repository.Tags != 2 || r.Repository.LastPush == nil {
		t.Fatalf("repository %v %v", r, err)
	}
	_, err = e.registry.GetRepository(ctx, &mcrv1.GetRepositoryRequest{Repository: "Bad Name"})
	wantCode(t, "bad name", err, codes.InvalidArgument)
	_, err = e.registry.GetRepository(ctx, &mcrv1.GetRepositoryRequest{Repository: "no/such"})
	wantCode(t, "unknown repository", err, codes.NotFound)

	tags, err := e.registry.ListTags(ctx, &mcrv1.ListTagsRequest{Repository: "team/app"})
	if err != nil || len(tags.Tags) != 2 || tags.Tags[0].Name != "v1" || tags.Tags[0].Digest != dgst {
		t.Fatalf("tags %v %v", tags, err)
	}
	tag, err := e.registry.GetTag(ctx, &mcrv1.GetTagRequest{Repository: "team/app", Tag: "v1"})
	if err != nil || tag.Tag.Digest != dgst || tag.Manifest.GetConfig() == nil || len(tag.Manifest.Layers) != 1 || len(tag.Manifest.Raw) == 0 {
		t.Fatalf("tag %v %v", tag, err)
	}
	_, err = e.registry.GetTag(ctx, &mcrv1.GetTagRequest{Repository: "team/app", Tag: "nope"})
	wantCode(t, "unknown tag", err, codes.NotFound)
	_, err = e.registry.GetTag(ctx, &mcrv1.GetTagRequest{Repository: "team/app", Tag: "-bad"})
	wantCode(t, "bad tag", err, codes.InvalidArgument)

	ms, err := e.registry.ListManifests(ctx, &mcrv1.ListManifestsRequest{Repository: "team/app"})
	if err != nil || len(ms.Manifests) != 2 {
		t.Fatalf("manifests %v %v", ms, err)
	}
	m, err := e.registry.GetManifest(ctx, &mcrv1.GetManifestRequest{Repository: "team/app", Reference: dgst})
	if err != nil || m.Manifest.Digest != dgst || m.Manifest.Tags[0] != "v1" {
		t.Fatalf("manifest %v %v", m, err)
	}
	_, err = e.registry.GetManifest(ctx, &mcrv1.GetManifestRequest{Repository: "team/app", Reference: "sha256:zz"})
	wantCode(t, "bad reference", err, codes.InvalidArgument)

	if _, err := e.registry.DeleteTag(ctx, &mcrv1.DeleteTagRequest{Repository: "team/app", Tag: "v2"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.registry.DeleteTag(ctx, &mcrv1.DeleteTagRequest{Repository: "team/app", Tag: "v2"})
	wantCode(t, "tag deleted twice", err, codes.NotFound)
	if _, err := e.registry.DeleteManifest(ctx, &mcrv1.DeleteManifestRequest{Repository: "team/app", Digest: dgst}); err != nil {
		t.Fatal(err)
	}
	_, err = e.registry.DeleteManifest(ctx, &mcrv1.DeleteManifestRequest{Repository: "team/app", Digest: "v1"})
	wantCode(t, "manifest by tag", err, codes.InvalidArgument)

	up, err := e.reg.StartUpload(context.Background(), "team/app")
	if err != nil {
		t.Fatal(err)
	}
	ups, err := e.registry.ListUploads(ctx, &mcrv1.ListUploadsRequest{Repository: "team/app"})
	if err != nil || len(ups.Uploads) != 1 || ups.Uploads[0].Id != up.ID {
		t.Fatalf("uploads %v %v", ups, err)
	}
	_, err = e.registry.ListUploads(ctx, &mcrv1.ListUploadsRequest{Repository: "UPPER"})
	wantCode(t, "uploads of a bad name", err, codes.InvalidArgument)
	if _, err := e.registry.DeleteUpload(ctx, &mcrv1.DeleteUploadRequest{Id: up.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = e.registry.DeleteUpload(ctx, &mcrv1.DeleteUploadRequest{Id: up.ID})
	wantCode(t, "upload deleted twice", err, codes.NotFound)

	del, err := e.registry.DeleteRepository(ctx, &mcrv1.DeleteRepositoryRequest{Repository: "other/lib"})
	if err != nil || del.Job.GetKind() != "repo-delete:other/lib" {
		t.Fatalf("delete repository %v %v", del, err)
	}
	_, err = e.registry.DeleteRepository(ctx, &mcrv1.DeleteRepositoryRequest{Repository: "no/such"})
	wantCode(t, "delete unknown repository", err, codes.NotFound)
}

func TestJobService(t *testing.T) {
	e := newEnv(t)
	ctx := as(e.token(e.Account("root", identity.Human, identity.RoleAdmin)))
	run, err := e.jobs.RunGC(ctx, &mcrv1.RunGCRequest{DryRun: true})
	if err != nil || run.Job.Kind != "gc-dry-run" && !strings.Contains(run.Job.GetKind(), "dry") {
		t.Fatalf("run %v %v", run, err)
	}
	st, err := e.jobs.GetGCStatus(ctx, &mcrv1.GetGCStatusRequest{})
	if err != nil || st.Gc == nil || st.DryRun.GetKind() != run.Job.Kind || st.Uploads == nil {
		t.Fatalf("gc status %v %v", st, err)
	}
	list, err := e.jobs.ListJobs(ctx, &mcrv1.ListJobsRequest{})
	if err != nil || len(list.Jobs) == 0 {
		t.Fatalf("jobs %v %v", list, err)
	}
	j, err := e.jobs.GetJob(ctx, &mcrv1.GetJobRequest{Kind: run.Job.Kind})
	if err != nil || j.Job.Kind != run.Job.Kind {
		t.Fatalf("job %v %v", j, err)
	}
	_, err = e.jobs.GetJob(ctx, &mcrv1.GetJobRequest{Kind: "no-such-job"})
	wantCode(t, "unknown job", err, codes.NotFound)
	if _, err := e.jobs.ListGCHistory(ctx, &mcrv1.ListGCHistoryRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.jobs.ListGCHistory(ctx, &mcrv1.ListGCHistoryRequest{Cursor: "garbage"})
	wantCode(t, "bad cursor", err, codes.InvalidArgument)
}

func TestPolicyService(t *testing.T) {
	e := newEnv(t)
	ctx := as(e.token(e.Account("root", identity.Human, identity.RoleAdmin)))
	e.Account("ci", identity.System)
	rule := &mcrv1.Rule{Id: "ci-pull", Priority: 10, Effect: "allow", Subject: &mcrv1.Subject{AccountType: identity.System},
		Actions: []string{"pull"}, Repositories: []string{"team/*"}, Enabled: true}
	c, err := e.policy.CreateRule(ctx, &mcrv1.CreateRuleRequest{Rule: rule})
	if err != nil || c.Rule.Id != "ci-pull" || !c.Rule.Enabled {
		t.Fatalf("create %v %v", c, err)
	}
	_, err = e.policy.CreateRule(ctx, &mcrv1.CreateRuleRequest{Rule: &mcrv1.Rule{Id: "bad", Effect: "maybe", Actions: []string{"pull"}}})
	wantCode(t, "bad effect", err, codes.InvalidArgument)

	d, err := e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Account: "ci", Action: "pull", Repository: "team/app"})
	if err != nil || !d.Allowed || d.Rule.GetId() != "ci-pull" {
		t.Fatalf("test pull %v %v", d, err)
	}
	d, err = e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Account: "ci", Action: "push", Repository: "team/app"})
	if err != nil || d.Allowed || d.Reason == "" {
		t.Fatalf("test push %v %v", d, err)
	}
	_, err = e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Action: "fly"})
	wantCode(t, "unknown action", err, codes.InvalidArgument)
	_, err = e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Account: "nobody", Action: "pull"})
	wantCode(t, "unknown account", err, codes.NotFound)

	dis, err := e.policy.DisableRule(ctx, &mcrv1.DisableRuleRequest{Id: "ci-pull"})
	if err != nil || dis.Rule.Enabled {
		t.Fatalf("disable %v %v", dis, err)
	}
	if d, _ := e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Account: "ci", Action: "pull", Repository: "team/app"}); d.GetAllowed() {
		t.Error("a disabled rule still allows")
	}
	en, err := e.policy.EnableRule(ctx, &mcrv1.EnableRuleRequest{Id: "ci-pull"})
	if err != nil || !en.Rule.Enabled {
		t.Fatalf("enable %v %v", en, err)
	}
	rule.Priority = 20
	rep, err := e.policy.ReplaceRule(ctx, &mcrv1.ReplaceRuleRequest{Id: "ci-pull", Rule: rule})
	if err != nil || rep.Rule.Priority != 20 {
		t.Fatalf("replace %v %v", rep, err)
	}
	_, err = e.policy.ReplaceRule(ctx, &mcrv1.ReplaceRuleRequest{Id: "other", Rule: rule})
	wantCode(t, "replace with another id", err, codes.InvalidArgument)
	g, err := e.policy.GetRule(ctx, &mcrv1.GetRuleRequest{Id: "ci-pull"})
	if err != nil || g.Rule.Priority != 20 {
		t.Fatalf("get %v %v", g, err)
	}
	list, err := e.policy.ListRules(ctx, &mcrv1.ListRulesRequest{})
	if err != nil || len(list.Rules) < 2 {
		t.Fatalf("list %v %v", list, err)
	}
	if _, err := e.policy.DeleteRule(ctx, &mcrv1.DeleteRuleRequest{Id: "ci-pull"}); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"get":    func() error { _, err := e.policy.GetRule(ctx, &mcrv1.GetRuleRequest{Id: "ci-pull"}); return err }(),
		"delete": func() error { _, err := e.policy.DeleteRule(ctx, &mcrv1.DeleteRuleRequest{Id: "ci-pull"}); return err }(),
		"enable": func() error { _, err := e.policy.EnableRule(ctx, &mcrv1.EnableRuleRequest{Id: "ci-pull"}); return err }(),
		"disable": func() error {
			_, err := e.policy.DisableRule(ctx, &mcrv1.DisableRuleRequest{Id: "ci-pull"})
			return err
		}(),
	} {
		wantCode(t, what+" a deleted rule", err, codes.NotFound)
	}
}

func TestAccountService(t *testing.T) {
	e := newEnv(t)
	ctx := as(e.token(e.Account("root", identity.Human, identity.RoleAdmin)))
	c, err := e.accounts.CreateAccount(ctx, &mcrv1.CreateAccountRequest{Name: "alice", Type: identity.Human})
	if err != nil || c.Account.Name != "alice" || c.Password == "" {
		t.Fatalf("create %v %v", c, err)
	}
	_, err = e.accounts.CreateAccount(ctx, &mcrv1.CreateAccountRequest{Name: "bob", Type: "robot"})
	wantCode(t, "bad type", err, codes.InvalidArgument)
	list, err := e.accounts.ListAccounts(ctx, &mcrv1.ListAccountsRequest{})
	if err != nil || len(list.Accounts) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	g, err := e.accounts.GetAccount(ctx, &mcrv1.GetAccountRequest{Account: "alice"})
	if err != nil || g.Account.Id != c.Account.Id {
		t.Fatalf("get %v %v", g, err)
	}
	_, err = e.accounts.GetAccount(ctx, &mcrv1.GetAccountRequest{Account: "nobody"})
	wantCode(t, "unknown account", err, codes.NotFound)
	if d, err := e.accounts.DisableAccount(ctx, &mcrv1.DisableAccountRequest{Account: "alice"}); err != nil || d.Account.Enabled {
		t.Fatalf("disable %v %v", d, err)
	}
	if en, err := e.accounts.EnableAccount(ctx, &mcrv1.EnableAccountRequest{Account: "alice"}); err != nil || !en.Account.Enabled {
		t.Fatalf("enable %v %v", en, err)
	}
	if _, err := e.accounts.SetPassword(ctx, &mcrv1.SetPasswordRequest{Account: "alice", Password: "a-new-long-password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ids.Login(context.Background(), "alice", "a-new-long-password"); err != nil {
		t.Errorf("the new password does not log in: %v", err)
	}
	_, err = e.accounts.SetPassword(ctx, &mcrv1.SetPasswordRequest{Account: "nobody", Password: "a-new-long-password"})
	wantCode(t, "password of an unknown account", err, codes.NotFound)

	e.Account("ci", identity.System)
	k, err := e.accounts.CreateAccessKey(ctx, &mcrv1.CreateAccessKeyRequest{Account: "ci", Description: "pipeline"})
	if err != nil || k.Secret == "" || k.Key.Description != "pipeline" {
		t.Fatalf("create key %v %v", k, err)
	}
	keys, err := e.accounts.ListAccessKeys(ctx, &mcrv1.ListAccessKeysRequest{Account: "ci"})
	if err != nil || len(keys.Keys) != 1 || keys.Keys[0].Id != k.Key.Id {
		t.Fatalf("keys %v %v", keys, err)
	}
	_, err = e.accounts.RevokeAccessKey(ctx, &mcrv1.RevokeAccessKeyRequest{Account: "alice", KeyId: k.Key.Id})
	wantCode(t, "revoke another account's key", err, codes.NotFound)
	if _, err := e.accounts.RevokeAccessKey(ctx, &mcrv1.RevokeAccessKeyRequest{Account: "ci", KeyId: k.Key.Id}); err != nil {
		t.Fatal(err)
	}
	if keys, _ := e.accounts.ListAccessKeys(ctx, &mcrv1.ListAccessKeysRequest{Account: "ci"}); keys.GetKeys()[0].GetRevoked() == nil {
		t.Error("revoked key without its time")
	}
	if _, err := e.accounts.DeleteAccount(ctx, &mcrv1.DeleteAccountRequest{Account: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.accounts.DeleteAccount(ctx, &mcrv1.DeleteAccountRequest{Account: "alice"})
	wantCode(t, "delete twice", err, codes.NotFound)
}

func TestAuditAndSnapshotServices(t *testing.T) {
	e := newEnv(t)
	ctx := as(e.token(e.Account("root", identity.Human, identity.RoleAdmin)))
	if _, err := e.accounts.CreateAccount(ctx, &mcrv1.CreateAccountRequest{Name: "alice", Type: identity.Human}); err != nil {
		t.Fatal(err)
	}
	q, err := e.audit.QueryAudit(ctx, &mcrv1.QueryAuditRequest{Filter: &mcrv1.AuditFilter{Types: []string{"account_changed"}, Actor: "root"}})
	if err != nil || len(q.Events) != 1 || q.Events[0].AccountName != "root" || !strings.Contains(q.Events[0].Detail, "alice") {
		t.Fatalf("query %v %v", q, err)
	}
	_, err = e.audit.QueryAudit(ctx, &mcrv1.QueryAuditRequest{Cursor: "garbage"})
	wantCode(t, "bad cursor", err, codes.InvalidArgument)
	_, err = e.audit.QueryAudit(ctx, &mcrv1.QueryAuditRequest{Wait: durationpb.New(2 * 60e9)})
	wantCode(t, "wait over a minute", err, codes.InvalidArgument)
	// The long poll answers at once when events are there.
	w, err := e.audit.QueryAudit(ctx, &mcrv1.QueryAuditRequest{Wait: durationpb.New(30e9)})
	if err != nil || len(w.Events) == 0 {
		t.Fatalf("long poll %v %v", w, err)
	}
	v, err := e.audit.VerifyAudit(ctx, &mcrv1.VerifyAuditRequest{})
	if err != nil || !v.Ok || v.Events == 0 {
		t.Fatalf("verify %v %v", v, err)
	}

	e.push("team/app", "v1")
	sn, err := e.snapshot.CreateSnapshot(ctx, &mcrv1.CreateSnapshotRequest{Dir: "first"})
	if err != nil || sn.Dir != filepath.Join(e.dir, "snapshots", "first") || sn.Blobs != 2 || sn.BlobBytes == 0 {
		t.Fatalf("snapshot %v %v", sn, err)
	}
	_, err = e.snapshot.CreateSnapshot(ctx, &mcrv1.CreateSnapshotRequest{Dir: "first"})
	wantCode(t, "snapshot into a full dir", err, codes.FailedPrecondition)
	_, err = e.snapshot.CreateSnapshot(ctx, &mcrv1.CreateSnapshotRequest{Dir: "../out"})
	wantCode(t, "snapshot climbing out", err, codes.InvalidArgument)
	_, err = e.snapshot.CreateSnapshot(ctx, &mcrv1.CreateSnapshotRequest{})
	wantCode(t, "snapshot without dir", err, codes.InvalidArgument)
}

// Credentials: none, wrong, a token without the API scope, a pull-only
// account (by token and by access key), and what each may do.
func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.Account("root", identity.Human, identity.RoleAdmin)
	ci := e.Account("ci", identity.System)
	e.push("team/app", "v1")
	if err := e.pol.Put(context.Background(), policy.Rule{ID: "ci-pull", Priority: 10, Effect: policy.Allow,
		Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull}, Repositories: []string{"team/*"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.pol.Put(context.Background(), policy.Rule{ID: "ci-catalog", Priority: 10, Effect: policy.Allow,
		Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Catalog}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := e.ids.CreateAccessKey(context.Background(), ci.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}

	status := func(cred string) error {
		_, err := e.registry.GetStatus(as(cred), &mcrv1.GetStatusRequest{})
		return err
	}
	wantCode(t, "no credentials", status(""), codes.Unauthenticated)
	wantCode(t, "wrong password", status(servertest.Basic("root", "wrong")), codes.Unauthenticated)
	wantCode(t, "garbage token", status("Bearer not.a.token"), codes.Unauthenticated)
	wantCode(t, "unknown scheme", status("Digest x"), codes.Unauthenticated)
	wantCode(t, "root by password", status(servertest.Basic("root", "root-password")), codes.OK)

	// A pull token of an admin does not reach the API.
	pullTok, err := e.ids.IssueToken(mustPrincipal(t, e, "root"), []identity.Access{{Type: "repository", Name: "team/app", Actions: []string{"pull"}}})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "token without API scope", status("Bearer "+pullTok.Token), codes.Unauthenticated)

	before := countDenied(t, e)
	for name, cred := range map[string]string{"token": e.token(ci), "access key": servertest.Basic("ci", secret)} {
		ctx := as(cred)
		wantCode(t, name+": status", status(cred), codes.PermissionDenied)
		_, err := e.registry.GetRepository(ctx, &mcrv1.GetRepositoryRequest{Repository: "team/app"})
		wantCode(t, name+": pull a repository", err, codes.OK)
		_, err = e.registry.DeleteTag(ctx, &mcrv1.DeleteTagRequest{Repository: "team/app", Tag: "v1"})
		wantCode(t, name+": delete a tag", err, codes.PermissionDenied)
		_, err = e.registry.ListTags(ctx, &mcrv1.ListTagsRequest{Repository: "other/app"})
		wantCode(t, name+": tags of a repository outside the rule", err, codes.PermissionDenied)
		_, err = e.policy.TestPolicy(ctx, &mcrv1.TestPolicyRequest{Action: "pull"})
		wantCode(t, name+": policy test", err, codes.PermissionDenied)
		stream, err := e.audit.FollowAudit(ctx, &mcrv1.FollowAuditRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		wantCode(t, name+": follow the audit log", err, codes.PermissionDenied)
	}
	// The journal writes asynchronously: wait for the ten events.
	wait.For(t, "the ten denials in the audit log", func() bool { return countDenied(t, e)-before >= 10 })
	if got := countDenied(t, e) - before; got != 10 {
		t.Errorf("%d denials audited, want 10", got)
	}
	// The catalog is filtered by pull, as GET /v2/_catalog is.
	e.push("other/app", "v1")
	repos, err := e.registry.ListRepositories(as(e.token(ci)), &mcrv1.ListRepositoriesRequest{})
	if err != nil || len(repos.Repositories) != 1 || repos.Repositories[0].Name != "team/app" {
		t.Errorf("ci's catalog %v %v", repos, err)
	}
}

func mustPrincipal(t *testing.T, e *env, name string) identity.Principal {
	t.Helper()
	a, err := e.ids.AccountByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a.Principal()
}

func countDenied(t *testing.T, e *env) int {
	t.Helper()
	ctx := as(e.token(mustAccount(t, e, "root")))
	q, err := e.audit.QueryAudit(ctx, &mcrv1.QueryAuditRequest{Filter: &mcrv1.AuditFilter{Types: []string{"denied"}}, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(q.Events)
}

func mustAccount(t *testing.T, e *env, name string) identity.Account {
	t.Helper()
	a, err := e.ids.AccountByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
