package auth_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// TestAuthBehindProxy: forwarded headers set the realm and the audited
// client address only when the peer is a trusted proxy. (The in-memory
// listener's peer is 0.0.0.0, which 0.0.0.0/32 trusts.)
func TestAuthBehindProxy(t *testing.T) {
	fwd := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "registry.example.com", "X-Forwarded-For", "203.0.113.9"}
	trusted, err := forwarded.Parse([]string{"0.0.0.0/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		proxies       forwarded.Trust
		realm, remote string
	}{
		{"untrusted", forwarded.Trust{}, "http://registry.test/v2/token", "0.0.0.0"},
		{"trusted", trusted, "https://registry.example.com/v2/token", "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{Proxies: c.proxies}})
			r := ar.Do("GET", "/v2/", nil, fwd...)
			ar.Expect(r, 401, "UNAUTHORIZED", "anonymous /v2/ through the proxy")
			if ch := servertest.Challenge(t, r); ch["realm"] != c.realm {
				t.Errorf("realm %q, want %q", ch["realm"], c.realm)
			}
			ar.Expect(ar.Do("GET", "/v2/", nil, append([]string{"Authorization", servertest.Basic("nobody", "wrong")}, fwd...)...), 401, "UNAUTHORIZED", "bad password")
			var remotes []string
			for _, e := range ar.Events.Events() {
				if e.Kind == audit.LoginFailed {
					remotes = append(remotes, e.Remote)
				}
			}
			if len(remotes) != 1 || remotes[0] != c.remote {
				t.Errorf("failed logins audited from %q, want [%s]", remotes, c.remote)
			}
		})
	}
}

func TestAuthChallengeTokenRetry(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	ci := ar.Account("ci", identity.System)
	reader := ar.Account("reader", identity.System)
	ar.Rule(policy.Rule{ID: "ci-push", Priority: 10, Subject: policy.Subject{AccountID: ci.ID},
		Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	ar.Rule(policy.Rule{ID: "reader-pull", Subject: policy.Subject{AccountID: reader.ID}, Actions: []policy.Action{policy.Pull}, Repositories: []string{"ci/*"}})

	// 1. Anonymous: the challenge names the token endpoint and service.
	r := ar.Do("GET", "/v2/", nil)
	ar.Expect(r, 401, "UNAUTHORIZED", "anonymous /v2/")
	ch := servertest.Challenge(t, r)
	if ch["realm"] != "http://registry.test/v2/token" || ch["service"] != servertest.Service {
		t.Errorf("challenge %v", ch)
	}

	// 2. A token for ci/app push with Basic credentials.
	tok := ar.Token(servertest.Basic("ci", "ci-password"), "repository:ci/app:pull,push")
	if tok.Token == "" || tok.Token != tok.AccessToken || tok.ExpiresIn != 300 {
		t.Errorf("token reply %+v", tok)
	}
	if _, err := time.Parse(time.RFC3339, tok.IssuedAt); err != nil {
		t.Errorf("issued_at %q: %v", tok.IssuedAt, err)
	}
	if tok.Scope != "repository:ci/app:pull,push" {
		t.Errorf("granted %q", tok.Scope)
	}

	// 3. The retry with the token.
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Bearer(tok.Token)), 200, "", "/v2/ with token")
	ar.Expect(ar.PushImage(servertest.Bearer(tok.Token), "ci/app", "v1"), 201, "", "push ci/app with token")
	pushed := 0
	for _, e := range ar.Events.Events() {
		if e.Kind == audit.Push && e.Repository == "ci/app" && e.AccountID == ci.ID && e.AccountType == identity.System && e.Digest != "" {
			pushed++
		}
	}
	if pushed < 2 { // the blobs and the manifest
		t.Errorf("%d pushes audited", pushed)
	}
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer(tok.Token)), 200, "", "pull with token")

	// prod/app: the policy grants nothing, so the token carries nothing
	// and the push is DENIED (re-authenticating would not help).
	prod := ar.Token(servertest.Basic("ci", "ci-password"), "repository:prod/app:pull,push")
	if prod.Scope != "" {
		t.Errorf("prod scope granted: %q", prod.Scope)
	}
	r = ar.PushImage(servertest.Bearer(prod.Token), "prod/app", "v1")
	ar.Expect(r, 403, "DENIED", "push prod/app")
	if ar.Events.Count(audit.Denied, "denied") == 0 {
		t.Error("denial not audited")
	}

	// Insufficient scope: a pull token used to push, where the policy
	// allows the push, asks the client for a wider token.
	pullOnly := ar.Token(servertest.Basic("ci", "ci-password"), "repository:ci/app:pull")
	r = ar.Do("POST", "/v2/ci/app/blobs/uploads/", nil, "Authorization", servertest.Bearer(pullOnly.Token))
	ar.Expect(r, 401, "UNAUTHORIZED", "push with pull token")
	ch = servertest.Challenge(t, r)
	if ch["error"] != "insufficient_scope" || ch["scope"] != "repository:ci/app:pull,push" {
		t.Errorf("insufficient scope challenge %v", ch)
	}

	// A pull-only account cannot push, with a token or Basic.
	rt := ar.Token(servertest.Basic("reader", "reader-password"), "repository:ci/app:pull,push")
	if rt.Scope != "repository:ci/app:pull" {
		t.Errorf("reader granted %q", rt.Scope)
	}
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer(rt.Token)), 200, "", "reader pulls")
	ar.Expect(ar.PushImage(servertest.Bearer(rt.Token), "ci/app", "v2"), 403, "DENIED", "reader pushes with token")
	ar.Expect(ar.PushImage(servertest.Basic("reader", "reader-password"), "ci/app", "v2"), 403, "DENIED", "reader pushes with Basic")

	// Anonymous is refused with a challenge carrying the scope.
	r = ar.Do("GET", "/v2/ci/app/manifests/v1", nil)
	ar.Expect(r, 401, "UNAUTHORIZED", "anonymous pull")
	if servertest.Challenge(t, r)["scope"] != "repository:ci/app:pull" {
		t.Errorf("anonymous challenge %v", r.Header.Get("WWW-Authenticate"))
	}
	anon := ar.Token("", "repository:ci/app:pull")
	if anon.Scope != "" {
		t.Errorf("anonymous token granted %q", anon.Scope)
	}
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer(anon.Token)), 401, "UNAUTHORIZED", "anonymous token")
	if ar.Events.Count(audit.TokenIssued, "") < 4 {
		t.Error("token issuance not audited")
	}
}

func TestAuthBasicAndTokens(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	alice := ar.Account("alice", identity.Human)

	// Basic straight on /v2/... works; the built-in lets humans push.
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "alice-password")), 200, "", "Basic /v2/")
	ar.Expect(ar.PushImage(servertest.Basic("alice", "alice-password"), "team/app", "v1"), 201, "", "human pushes with Basic")
	r := ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "wrong-password"))
	ar.Expect(r, 401, "UNAUTHORIZED", "wrong password")
	servertest.Challenge(t, r)
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", "Digest x"), 401, "UNAUTHORIZED", "unknown scheme")
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", "Basic !!!"), 401, "UNAUTHORIZED", "malformed Basic")
	if ar.Events.Count(audit.LoginFailed, "failure") == 0 {
		t.Error("failed login not audited")
	}

	// Tampered and expired tokens are invalid_token.
	tok := ar.Token(servertest.Basic("alice", "alice-password"), "repository:team/app:pull")
	ar.Expect(ar.Do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", servertest.Bearer(tok.Token)), 200, "", "valid token")
	tampered := tok.Token[:len(tok.Token)-4] + "AAAA"
	r = ar.Do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", servertest.Bearer(tampered))
	ar.Expect(r, 401, "UNAUTHORIZED", "tampered token")
	if servertest.Challenge(t, r)["error"] != "invalid_token" {
		t.Errorf("tampered token challenge %q", r.Header.Get("WWW-Authenticate"))
	}
	ar.Clock.Add(10 * time.Minute)
	r = ar.Do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", servertest.Bearer(tok.Token))
	ar.Expect(r, 401, "UNAUTHORIZED", "expired token")
	if servertest.Challenge(t, r)["error"] != "invalid_token" {
		t.Errorf("expired token challenge %q", r.Header.Get("WWW-Authenticate"))
	}

	// Wrong service: refused at the token endpoint; a token issued for
	// another service (same keys) is refused here.
	// The answer is OAuth2's invalid_request (RFC 6749 §5.2), which
	// Docker's client shows, for GET and POST alike.
	for _, r := range []servertest.Resp{
		ar.Do("GET", "/v2/token?service=elsewhere&scope=repository:team/app:pull", nil, "Authorization", servertest.Basic("alice", "alice-password")),
		ar.Do("POST", "/v2/token", []byte("grant_type=password&service=elsewhere&username=alice&password=alice-password"),
			"Content-Type", "application/x-www-form-urlencoded"),
	} {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(r.Body, &oe); r.Status != 400 || err != nil || oe.Error != "invalid_request" ||
			!strings.Contains(oe.Description, `unknown service "elsewhere"`) {
			t.Errorf("token for another service: %d %s", r.Status, r.Body)
		}
	}
	other, err := identity.New(context.Background(), ar.Stores.KV, identity.Options{Service: "elsewhere", Now: ar.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.IssueToken(alice.Principal(), []identity.Access{{Type: "repository", Name: "team/app", Actions: []string{"pull"}}})
	ar.Expect(ar.Do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", servertest.Bearer(foreign.Token)), 401, "UNAUTHORIZED", "wrong audience")

	// A disabled account is refused everywhere.
	if err := ar.IDs.SetEnabled(context.Background(), alice.ID, false); err != nil {
		t.Fatal(err)
	}
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "alice-password")), 401, "UNAUTHORIZED", "disabled Basic")
	ar.Expect(ar.Do("GET", "/v2/token?scope=repository:team/app:pull", nil, "Authorization", servertest.Basic("alice", "alice-password")), 401, "UNAUTHORIZED", "disabled token")
}

func TestAuthCatalogFilteredAndAdmin(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	ar.Account("root", identity.Human, identity.RoleAdmin)
	ci := ar.Account("ci", identity.System)
	ar.Rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/**"}})
	ar.Rule(policy.Rule{ID: "ci-catalog", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Catalog}})
	root := servertest.Basic("root", "root-password")
	for _, repo := range []string{"a/x", "ci/a", "ci/b/c", "prod/app", "z"} {
		ar.Expect(ar.PushImage(root, repo, "v1"), 201, "", "admin pushes "+repo)
	}
	list := func(cred, q string) []string {
		r := ar.Do("GET", "/v2/_catalog"+q, nil, "Authorization", cred)
		ar.Expect(r, 200, "", "catalog")
		var c struct{ Repositories []string }
		_ = json.Unmarshal(r.Body, &c)
		return c.Repositories
	}
	if got := strings.Join(list(root, ""), " "); got != "a/x ci/a ci/b/c prod/app z" {
		t.Errorf("admin catalog %q", got)
	}
	ciCred := servertest.Basic("ci", "ci-password")
	if got := strings.Join(list(ciCred, ""), " "); got != "ci/a ci/b/c" {
		t.Errorf("ci catalog %q", got)
	}
	if got := strings.Join(list(ciCred, "?n=1"), " "); got != "ci/a" {
		t.Errorf("ci catalog page 1 %q", got)
	}
	if got := strings.Join(list(ciCred, "?n=1&last=ci/a"), " "); got != "ci/b/c" {
		t.Errorf("ci catalog page 2 %q", got)
	}
	// With a token, the catalog needs the registry:catalog:* scope.
	tok := ar.Token(ciCred, "registry:catalog:*")
	if tok.Scope != "registry:catalog:*" {
		t.Errorf("catalog scope granted %q", tok.Scope)
	}
	if got := strings.Join(list(servertest.Bearer(tok.Token), ""), " "); got != "ci/a ci/b/c" {
		t.Errorf("ci catalog with token %q", got)
	}
	// Admin-only and policy actions are not for the CI account.
	ar.Expect(ar.Do("DELETE", "/v2/ci/a/manifests/v1", nil, "Authorization", ciCred), 403, "DENIED", "ci deletes without delete")
	ar.Expect(ar.Do("DELETE", "/v2/ci/a/manifests/v1", nil, "Authorization", root), 202, "", "admin deletes")
}

func TestAuthMount(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	ar.Account("root", identity.Human, identity.RoleAdmin)
	ci := ar.Account("ci", identity.System)
	ar.Rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	root, ciCred := servertest.Basic("root", "root-password"), servertest.Basic("ci", "ci-password")
	secret := servertest.RandomBytes(500)
	d := digest.FromBytes(secret).String()
	ar.Expect(ar.Do("POST", "/v2/prod/secret/blobs/uploads/?digest="+d, secret, "Authorization", root), 201, "", "admin pushes to prod")
	// Pull on the source is required: without it, a session, not a mount.
	ar.Expect(ar.Do("POST", "/v2/ci/app/blobs/uploads/?mount="+d+"&from=prod/secret", nil, "Authorization", ciCred), 202, "", "mount from unpullable source")
	ar.Expect(ar.Do("POST", "/v2/ci/app/blobs/uploads/?mount="+d, nil, "Authorization", ciCred), 202, "", "automatic mount from unpullable source")
	ar.Expect(ar.Do("HEAD", "/v2/ci/app/blobs/"+d, nil, "Authorization", ciCred), 404, "", "nothing mounted")
	// Once a pullable repository holds it, both kinds of mount work.
	ar.Expect(ar.Do("POST", "/v2/ci/src/blobs/uploads/?digest="+d, secret, "Authorization", root), 201, "", "admin pushes to ci/src")
	ar.Expect(ar.Do("POST", "/v2/ci/app/blobs/uploads/?mount="+d+"&from=ci/src", nil, "Authorization", ciCred), 201, "", "mount from pullable source")
	ar.Expect(ar.Do("POST", "/v2/ci/other/blobs/uploads/?mount="+d, nil, "Authorization", ciCred), 201, "", "automatic mount")
	// Push on the target is required.
	ar.Expect(ar.Do("POST", "/v2/prod/x/blobs/uploads/?mount="+d+"&from=ci/src", nil, "Authorization", ciCred), 403, "DENIED", "mount into unpushable target")
}

func TestAuthOAuthForms(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	alice := ar.Account("alice", identity.Human)
	post := func(form url.Values) servertest.Resp {
		return ar.Do("POST", "/v2/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	r := post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "service": {servertest.Service},
		"client_id": {"test"}, "access_type": {"offline"}, "scope": {"repository:a:pull repository:b:push"}})
	ar.Expect(r, 200, "", "password grant")
	var tr servertest.TokenResp
	_ = json.Unmarshal(r.Body, &tr)
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.Scope != "repository:a:pull repository:b:push" {
		t.Fatalf("password grant reply %s", r.Body)
	}
	r = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "service": {servertest.Service},
		"client_id": {"test"}, "scope": {"repository:a:pull,push"}})
	ar.Expect(r, 200, "", "refresh grant")
	var rt servertest.TokenResp
	_ = json.Unmarshal(r.Body, &rt)
	if rt.AccessToken == "" || rt.Scope != "repository:a:pull,push" {
		t.Errorf("refresh reply %s", r.Body)
	}
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Bearer(rt.AccessToken)), 200, "", "refreshed token")
	// A refresh token is not an access token, and vice versa.
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Bearer(tr.RefreshToken)), 401, "UNAUTHORIZED", "refresh token as bearer")
	ar.Expect(post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.AccessToken}}), 401, "UNAUTHORIZED", "access token as refresh")
	ar.Expect(post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}), 401, "UNAUTHORIZED", "wrong password form")
	ar.Expect(post(url.Values{"grant_type": {"client_credentials"}}), 400, "", "unknown grant")
	// A disabled account's refresh token stops working at once.
	if err := ar.IDs.SetEnabled(context.Background(), alice.ID, false); err != nil {
		t.Fatal(err)
	}
	ar.Expect(post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}), 401, "UNAUTHORIZED", "refresh of disabled account")
	// offline_token on GET.
	ar.Account("bob", identity.Human)
	r = ar.Do("GET", "/v2/token?offline_token=true&scope=repository:a:pull", nil, "Authorization", servertest.Basic("bob", "bob-password"))
	_ = json.Unmarshal(r.Body, &tr)
	if tr.RefreshToken == "" {
		t.Errorf("offline_token GET without a refresh token: %s", r.Body)
	}
}

func TestAuthAccessKeys(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	ci := ar.Account("ci", identity.System)
	ar.Rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	key, secret, err := ar.IDs.CreateAccessKey(context.Background(), ci.ID, "pipeline")
	if err != nil {
		t.Fatal(err)
	}
	ar.Expect(ar.PushImage(servertest.Basic("ci", secret), "ci/app", "v1"), 201, "", "push with access key")
	tok := ar.Token(servertest.Basic("ci", secret), "repository:ci/app:pull")
	if tok.Scope != "repository:ci/app:pull" {
		t.Errorf("key token granted %q", tok.Scope)
	}
	if err := ar.IDs.RevokeAccessKey(context.Background(), key.ID); err != nil {
		t.Fatal(err)
	}
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Basic("ci", secret)), 401, "UNAUTHORIZED", "revoked key")
	ar.Expect(ar.Do("GET", "/v2/token?scope=repository:ci/app:pull", nil, "Authorization", servertest.Basic("ci", secret)), 401, "UNAUTHORIZED", "revoked key at token endpoint")
}

func TestAuthRateLimit(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{Limits: auth.Limits{PairBurst: 3, AddrBurst: 100, Window: time.Minute}}})
	ar.Account("alice", identity.Human)
	for i := range 3 {
		ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "guess")), 401, "UNAUTHORIZED", "guess "+strconv.Itoa(i))
	}
	r := ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "alice-password"))
	ar.Expect(r, 429, "TOOMANYREQUESTS", "right password past the limit")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	ar.Expect(ar.Do("GET", "/v2/token?scope=repository:a:pull", nil, "Authorization", servertest.Basic("alice", "alice-password")), 429, "TOOMANYREQUESTS", "token endpoint past the limit")
	if ar.Events.Count(audit.LoginFailed, "rate_limited") == 0 {
		t.Error("rate-limited login not audited")
	}
	// The bucket drains with time.
	ar.Clock.Add(30 * time.Second)
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("alice", "alice-password")), 200, "", "after the window")
	// Another account from the same address is not locked by alice's.
	ar.Account("bob", identity.Human)
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("bob", "bob-password")), 200, "", "other account")
}

// A burst of logins from one address (a CI fleet behind NAT) queues for
// the address's check slot instead of being refused: different accounts
// wait their turn, and identical credentials share one check.
func TestAuthLoginBurstOneAddress(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{Limits: auth.Limits{AddrChecks: 1}}})
	const n = 12
	creds := make([]string, 0, 2*n)
	for i := range n {
		name := "robot" + strconv.Itoa(i)
		ar.Account(name, identity.System)
		creds = append(creds, servertest.Basic(name, name+"-password"), servertest.Basic("robot0", "robot0-password"))
	}
	codes := make([]int, len(creds))
	var wg sync.WaitGroup
	for i, c := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = ar.Do("GET", "/v2/token?scope=repository:a:pull", nil, "Authorization", c).Status
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("login %d of the burst: %d", i, code)
		}
	}
}

// With pull auditing on, a manifest GET is an audit event; a HEAD and blob
// reads are not, and with it off (the default, every other test) no pull
// is recorded.
func TestAuditPulls(t *testing.T) {
	for _, on := range []bool{false, true} {
		ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{AuditPulls: on}})
		ar.Account("root", identity.Human, identity.RoleAdmin)
		root := servertest.Basic("root", "root-password")
		ar.Expect(ar.PushImage(root, "a", "v1"), 201, "", "push")
		ar.Expect(ar.Do("GET", "/v2/a/manifests/v1", nil, "Authorization", root, "Accept", servertest.OCIManifest), 200, "", "GET manifest")
		ar.Expect(ar.Do("HEAD", "/v2/a/manifests/v1", nil, "Authorization", root, "Accept", servertest.OCIManifest), 200, "", "HEAD manifest")
		want := 0
		if on {
			want = 1
		}
		if n := ar.Events.Count(audit.Pull, "success"); n != want {
			t.Errorf("pull auditing %v: %d pull events, want %d", on, n, want)
		}
	}
}
