package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/identity/mcias"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

const testService = "registry.test"

// authRegistry is a testRegistry with authentication on, plus the
// identity service, the policy engine and the audit events.
type authRegistry struct {
	*testRegistry
	ids    *identity.Service
	pol    *policy.Engine
	events *recorder
	clock  *testClock
	store  *kv.Badger
	// With authSetup.admin:
	journal *audit.Journal
	runner  *jobs.Runner
	dataDir string
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) count(k audit.Kind, outcome string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == k && (outcome == "" || e.Outcome == outcome) {
			n++
		}
	}
	return n
}

type authSetup struct {
	mode   auth.Mode
	mcias  *mcias.Client
	limits auth.Limits
	// admin serves the admin API too, with a real audit journal, job
	// runner and collector.
	admin      bool
	auditPulls bool
	// eng and opts, when set, tune the engine and the server.
	eng     engine.Options
	opts    func(*Options)
	proxies forwarded.Trust
}

func newAuthRegistry(t *testing.T, s authSetup) *authRegistry {
	t.Helper()
	if s.mode == "" {
		s.mode = auth.ModeBuiltin
	}
	ctx := context.Background()
	dir, store, blobs := openTestStores(t)
	clk := &testClock{t: time.Now()}
	ids, err := identity.New(ctx, store, identity.Options{
		Service: testService, Hash: identity.HashParams{Time: 1, Memory: 64, Threads: 1}, Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.NewEngine(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := &recorder{}
	ar := &authRegistry{ids: ids, pol: pol, events: events, clock: clk, store: store, dataDir: dir}
	var rec audit.Recorder = events
	if s.admin {
		ar.journal = audit.Open(store, audit.Options{})
		rec = audit.Tee{ar.journal, events}
	}
	pol.WithAudit(rec)
	a := auth.New(auth.Options{Mode: s.mode, Identity: ids, MCIAS: s.mcias, Policy: pol, Audit: rec, Limits: s.limits, Now: clk.now, AuditPulls: s.auditPulls, Proxies: s.proxies})
	ar.testRegistry = serveTestRegistry(t, dir, store, blobs, s.eng, func(reg *engine.Registry, o *Options) {
		o.Auth = a
		if s.opts != nil {
			s.opts(o)
		}
		if s.admin {
			o.Admin = ar.adminAPI(t, reg, blobs, a, rec)
		}
	})
	if s.admin {
		// Registered after the server's cleanup, so run before it: the
		// jobs and the journal stop while the store is still open.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := ar.runner.Stop(ctx); err != nil {
				t.Error(err)
			}
			if err := ar.journal.Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	return ar
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func (ar *authRegistry) account(name, typ string, roles ...string) identity.Account {
	ar.t.Helper()
	a, err := ar.ids.CreateAccount(context.Background(), identity.NewAccount{Name: name, Type: typ, Roles: roles, Password: name + "-password"})
	if err != nil {
		ar.t.Fatal(err)
	}
	return a
}

func (ar *authRegistry) rule(r policy.Rule) {
	ar.t.Helper()
	r.Enabled = true
	if r.Effect == "" {
		r.Effect = policy.Allow
	}
	if err := ar.pol.Put(context.Background(), r); err != nil {
		ar.t.Fatal(err)
	}
}

type tokenResp struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// token fetches a token with GET and Basic credentials (cred "" for none).
func (ar *authRegistry) token(cred string, scopes ...string) tokenResp {
	ar.t.Helper()
	q := url.Values{"service": {testService}, "scope": scopes}
	var hdr []string
	if cred != "" {
		hdr = []string{"Authorization", cred}
	}
	r := ar.do("GET", "/v2/token?"+q.Encode(), nil, hdr...)
	ar.expect(r, 200, "", "token "+strings.Join(scopes, " "))
	var tr tokenResp
	if err := json.Unmarshal(r.body, &tr); err != nil {
		ar.t.Fatalf("token reply %s: %v", r.body, err)
	}
	return tr
}

func bearer(tok string) string { return "Bearer " + tok }

// challenge parses a WWW-Authenticate Bearer header into its parameters.
func challenge(t *testing.T, r resp) map[string]string {
	t.Helper()
	h := r.header.Get("WWW-Authenticate")
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("WWW-Authenticate %q is not a Bearer challenge", h)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(rest, `",`) {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = strings.Trim(v, `"`)
	}
	return out
}

// pushAs pushes a small image to repo:tag with the credential and reports
// the status of each step.
func (ar *authRegistry) pushImage(cred, repo, tag string) resp {
	ar.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := randomBytes(300)
	for _, b := range [][]byte{cfg, layer} {
		d := digestOf(b)
		r := ar.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d, b, "Authorization", cred)
		if r.status != 201 {
			return r
		}
	}
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digestOf(cfg) + `","size":` + itoa(len(cfg)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` +
		digestOf(layer) + `","size":` + itoa(len(layer)) + `}]}`
	return ar.do("PUT", "/v2/"+repo+"/manifests/"+tag, []byte(m), "Authorization", cred, "Content-Type", ociManifest)
}

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
			ar := newAuthRegistry(t, authSetup{proxies: c.proxies})
			r := ar.do("GET", "/v2/", nil, fwd...)
			ar.expect(r, 401, "UNAUTHORIZED", "anonymous /v2/ through the proxy")
			if ch := challenge(t, r); ch["realm"] != c.realm {
				t.Errorf("realm %q, want %q", ch["realm"], c.realm)
			}
			ar.expect(ar.do("GET", "/v2/", nil, append([]string{"Authorization", basic("nobody", "wrong")}, fwd...)...), 401, "UNAUTHORIZED", "bad password")
			ar.events.mu.Lock()
			defer ar.events.mu.Unlock()
			var remotes []string
			for _, e := range ar.events.events {
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
	ar := newAuthRegistry(t, authSetup{})
	ci := ar.account("ci", identity.System)
	reader := ar.account("reader", identity.System)
	ar.rule(policy.Rule{ID: "ci-push", Priority: 10, Subject: policy.Subject{AccountID: ci.ID},
		Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	ar.rule(policy.Rule{ID: "reader-pull", Subject: policy.Subject{AccountID: reader.ID}, Actions: []policy.Action{policy.Pull}, Repositories: []string{"ci/*"}})

	// 1. Anonymous: the challenge names the token endpoint and service.
	r := ar.do("GET", "/v2/", nil)
	ar.expect(r, 401, "UNAUTHORIZED", "anonymous /v2/")
	ch := challenge(t, r)
	if ch["realm"] != "http://registry.test/v2/token" || ch["service"] != testService {
		t.Errorf("challenge %v", ch)
	}

	// 2. A token for ci/app push with Basic credentials.
	tok := ar.token(basic("ci", "ci-password"), "repository:ci/app:pull,push")
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
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", bearer(tok.Token)), 200, "", "/v2/ with token")
	ar.expect(ar.pushImage(bearer(tok.Token), "ci/app", "v1"), 201, "", "push ci/app with token")
	ar.events.mu.Lock()
	pushed := 0
	for _, e := range ar.events.events {
		if e.Kind == audit.Push && e.Repository == "ci/app" && e.AccountID == ci.ID && e.AccountType == identity.System && e.Digest != "" {
			pushed++
		}
	}
	ar.events.mu.Unlock()
	if pushed < 2 { // the blobs and the manifest
		t.Errorf("%d pushes audited", pushed)
	}
	ar.expect(ar.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", bearer(tok.Token)), 200, "", "pull with token")

	// prod/app: the policy grants nothing, so the token carries nothing
	// and the push is DENIED (re-authenticating would not help).
	prod := ar.token(basic("ci", "ci-password"), "repository:prod/app:pull,push")
	if prod.Scope != "" {
		t.Errorf("prod scope granted: %q", prod.Scope)
	}
	r = ar.pushImage(bearer(prod.Token), "prod/app", "v1")
	ar.expect(r, 403, "DENIED", "push prod/app")
	if ar.events.count(audit.Denied, "denied") == 0 {
		t.Error("denial not audited")
	}

	// Insufficient scope: a pull token used to push, where the policy
	// allows the push, asks the client for a wider token.
	pullOnly := ar.token(basic("ci", "ci-password"), "repository:ci/app:pull")
	r = ar.do("POST", "/v2/ci/app/blobs/uploads/", nil, "Authorization", bearer(pullOnly.Token))
	ar.expect(r, 401, "UNAUTHORIZED", "push with pull token")
	ch = challenge(t, r)
	if ch["error"] != "insufficient_scope" || ch["scope"] != "repository:ci/app:pull,push" {
		t.Errorf("insufficient scope challenge %v", ch)
	}

	// A pull-only account cannot push, with a token or Basic.
	rt := ar.token(basic("reader", "reader-password"), "repository:ci/app:pull,push")
	if rt.Scope != "repository:ci/app:pull" {
		t.Errorf("reader granted %q", rt.Scope)
	}
	ar.expect(ar.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", bearer(rt.Token)), 200, "", "reader pulls")
	ar.expect(ar.pushImage(bearer(rt.Token), "ci/app", "v2"), 403, "DENIED", "reader pushes with token")
	ar.expect(ar.pushImage(basic("reader", "reader-password"), "ci/app", "v2"), 403, "DENIED", "reader pushes with Basic")

	// Anonymous is refused with a challenge carrying the scope.
	r = ar.do("GET", "/v2/ci/app/manifests/v1", nil)
	ar.expect(r, 401, "UNAUTHORIZED", "anonymous pull")
	if challenge(t, r)["scope"] != "repository:ci/app:pull" {
		t.Errorf("anonymous challenge %v", r.header.Get("WWW-Authenticate"))
	}
	anon := ar.token("", "repository:ci/app:pull")
	if anon.Scope != "" {
		t.Errorf("anonymous token granted %q", anon.Scope)
	}
	ar.expect(ar.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", bearer(anon.Token)), 401, "UNAUTHORIZED", "anonymous token")
	if ar.events.count(audit.TokenIssued, "") < 4 {
		t.Error("token issuance not audited")
	}
}

func TestAuthBasicAndTokens(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{})
	alice := ar.account("alice", identity.Human)

	// Basic straight on /v2/... works; the built-in lets humans push.
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "alice-password")), 200, "", "Basic /v2/")
	ar.expect(ar.pushImage(basic("alice", "alice-password"), "team/app", "v1"), 201, "", "human pushes with Basic")
	r := ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "wrong-password"))
	ar.expect(r, 401, "UNAUTHORIZED", "wrong password")
	challenge(t, r)
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", "Digest x"), 401, "UNAUTHORIZED", "unknown scheme")
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", "Basic !!!"), 401, "UNAUTHORIZED", "malformed Basic")
	if ar.events.count(audit.LoginFailed, "failure") == 0 {
		t.Error("failed login not audited")
	}

	// Tampered and expired tokens are invalid_token.
	tok := ar.token(basic("alice", "alice-password"), "repository:team/app:pull")
	ar.expect(ar.do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", bearer(tok.Token)), 200, "", "valid token")
	tampered := tok.Token[:len(tok.Token)-4] + "AAAA"
	r = ar.do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", bearer(tampered))
	ar.expect(r, 401, "UNAUTHORIZED", "tampered token")
	if challenge(t, r)["error"] != "invalid_token" {
		t.Errorf("tampered token challenge %q", r.header.Get("WWW-Authenticate"))
	}
	ar.clock.add(10 * time.Minute)
	r = ar.do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", bearer(tok.Token))
	ar.expect(r, 401, "UNAUTHORIZED", "expired token")
	if challenge(t, r)["error"] != "invalid_token" {
		t.Errorf("expired token challenge %q", r.header.Get("WWW-Authenticate"))
	}

	// Wrong service: refused at the token endpoint; a token issued for
	// another service (same keys) is refused here.
	// The answer is OAuth2's invalid_request (RFC 6749 §5.2), which
	// Docker's client shows, for GET and POST alike.
	for _, r := range []resp{
		ar.do("GET", "/v2/token?service=elsewhere&scope=repository:team/app:pull", nil, "Authorization", basic("alice", "alice-password")),
		ar.do("POST", "/v2/token", []byte("grant_type=password&service=elsewhere&username=alice&password=alice-password"),
			"Content-Type", "application/x-www-form-urlencoded"),
	} {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(r.body, &oe); r.status != 400 || err != nil || oe.Error != "invalid_request" ||
			!strings.Contains(oe.Description, `unknown service "elsewhere"`) {
			t.Errorf("token for another service: %d %s", r.status, r.body)
		}
	}
	other, err := identity.New(context.Background(), ar.store, identity.Options{Service: "elsewhere", Now: ar.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.IssueToken(alice.Principal(), []identity.Access{{Type: "repository", Name: "team/app", Actions: []string{"pull"}}})
	ar.expect(ar.do("GET", "/v2/team/app/manifests/v1", nil, "Authorization", bearer(foreign.Token)), 401, "UNAUTHORIZED", "wrong audience")

	// A disabled account is refused everywhere.
	if err := ar.ids.SetEnabled(context.Background(), alice.ID, false); err != nil {
		t.Fatal(err)
	}
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "alice-password")), 401, "UNAUTHORIZED", "disabled Basic")
	ar.expect(ar.do("GET", "/v2/token?scope=repository:team/app:pull", nil, "Authorization", basic("alice", "alice-password")), 401, "UNAUTHORIZED", "disabled token")
}

func TestAuthCatalogFilteredAndAdmin(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{})
	ar.account("root", identity.Human, identity.RoleAdmin)
	ci := ar.account("ci", identity.System)
	ar.rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/**"}})
	ar.rule(policy.Rule{ID: "ci-catalog", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Catalog}})
	root := basic("root", "root-password")
	for _, repo := range []string{"a/x", "ci/a", "ci/b/c", "prod/app", "z"} {
		ar.expect(ar.pushImage(root, repo, "v1"), 201, "", "admin pushes "+repo)
	}
	list := func(cred, q string) []string {
		r := ar.do("GET", "/v2/_catalog"+q, nil, "Authorization", cred)
		ar.expect(r, 200, "", "catalog")
		var c struct{ Repositories []string }
		_ = json.Unmarshal(r.body, &c)
		return c.Repositories
	}
	if got := strings.Join(list(root, ""), " "); got != "a/x ci/a ci/b/c prod/app z" {
		t.Errorf("admin catalog %q", got)
	}
	ciCred := basic("ci", "ci-password")
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
	tok := ar.token(ciCred, "registry:catalog:*")
	if tok.Scope != "registry:catalog:*" {
		t.Errorf("catalog scope granted %q", tok.Scope)
	}
	if got := strings.Join(list(bearer(tok.Token), ""), " "); got != "ci/a ci/b/c" {
		t.Errorf("ci catalog with token %q", got)
	}
	// Admin-only and policy actions are not for the CI account.
	ar.expect(ar.do("DELETE", "/v2/ci/a/manifests/v1", nil, "Authorization", ciCred), 403, "DENIED", "ci deletes without delete")
	ar.expect(ar.do("DELETE", "/v2/ci/a/manifests/v1", nil, "Authorization", root), 202, "", "admin deletes")
}

func TestAuthMount(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{})
	ar.account("root", identity.Human, identity.RoleAdmin)
	ci := ar.account("ci", identity.System)
	ar.rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	root, ciCred := basic("root", "root-password"), basic("ci", "ci-password")
	secret := randomBytes(500)
	d := digestOf(secret)
	ar.expect(ar.do("POST", "/v2/prod/secret/blobs/uploads/?digest="+d, secret, "Authorization", root), 201, "", "admin pushes to prod")
	// Pull on the source is required: without it, a session, not a mount.
	ar.expect(ar.do("POST", "/v2/ci/app/blobs/uploads/?mount="+d+"&from=prod/secret", nil, "Authorization", ciCred), 202, "", "mount from unpullable source")
	ar.expect(ar.do("POST", "/v2/ci/app/blobs/uploads/?mount="+d, nil, "Authorization", ciCred), 202, "", "automatic mount from unpullable source")
	ar.expect(ar.do("HEAD", "/v2/ci/app/blobs/"+d, nil, "Authorization", ciCred), 404, "", "nothing mounted")
	// Once a pullable repository holds it, both kinds of mount work.
	ar.expect(ar.do("POST", "/v2/ci/src/blobs/uploads/?digest="+d, secret, "Authorization", root), 201, "", "admin pushes to ci/src")
	ar.expect(ar.do("POST", "/v2/ci/app/blobs/uploads/?mount="+d+"&from=ci/src", nil, "Authorization", ciCred), 201, "", "mount from pullable source")
	ar.expect(ar.do("POST", "/v2/ci/other/blobs/uploads/?mount="+d, nil, "Authorization", ciCred), 201, "", "automatic mount")
	// Push on the target is required.
	ar.expect(ar.do("POST", "/v2/prod/x/blobs/uploads/?mount="+d+"&from=ci/src", nil, "Authorization", ciCred), 403, "DENIED", "mount into unpushable target")
}

func TestAuthOAuthForms(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{})
	alice := ar.account("alice", identity.Human)
	post := func(form url.Values) resp {
		return ar.do("POST", "/v2/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	r := post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "service": {testService},
		"client_id": {"test"}, "access_type": {"offline"}, "scope": {"repository:a:pull repository:b:push"}})
	ar.expect(r, 200, "", "password grant")
	var tr tokenResp
	_ = json.Unmarshal(r.body, &tr)
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.Scope != "repository:a:pull repository:b:push" {
		t.Fatalf("password grant reply %s", r.body)
	}
	r = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "service": {testService},
		"client_id": {"test"}, "scope": {"repository:a:pull,push"}})
	ar.expect(r, 200, "", "refresh grant")
	var rt tokenResp
	_ = json.Unmarshal(r.body, &rt)
	if rt.AccessToken == "" || rt.Scope != "repository:a:pull,push" {
		t.Errorf("refresh reply %s", r.body)
	}
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", bearer(rt.AccessToken)), 200, "", "refreshed token")
	// A refresh token is not an access token, and vice versa.
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", bearer(tr.RefreshToken)), 401, "UNAUTHORIZED", "refresh token as bearer")
	ar.expect(post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.AccessToken}}), 401, "UNAUTHORIZED", "access token as refresh")
	ar.expect(post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}), 401, "UNAUTHORIZED", "wrong password form")
	ar.expect(post(url.Values{"grant_type": {"client_credentials"}}), 400, "", "unknown grant")
	// A disabled account's refresh token stops working at once.
	if err := ar.ids.SetEnabled(context.Background(), alice.ID, false); err != nil {
		t.Fatal(err)
	}
	ar.expect(post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}), 401, "UNAUTHORIZED", "refresh of disabled account")
	// offline_token on GET.
	ar.account("bob", identity.Human)
	r = ar.do("GET", "/v2/token?offline_token=true&scope=repository:a:pull", nil, "Authorization", basic("bob", "bob-password"))
	_ = json.Unmarshal(r.body, &tr)
	if tr.RefreshToken == "" {
		t.Errorf("offline_token GET without a refresh token: %s", r.body)
	}
}

func TestAuthAccessKeys(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{})
	ci := ar.account("ci", identity.System)
	ar.rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	key, secret, err := ar.ids.CreateAccessKey(context.Background(), ci.ID, "pipeline")
	if err != nil {
		t.Fatal(err)
	}
	ar.expect(ar.pushImage(basic("ci", secret), "ci/app", "v1"), 201, "", "push with access key")
	tok := ar.token(basic("ci", secret), "repository:ci/app:pull")
	if tok.Scope != "repository:ci/app:pull" {
		t.Errorf("key token granted %q", tok.Scope)
	}
	if err := ar.ids.RevokeAccessKey(context.Background(), key.ID); err != nil {
		t.Fatal(err)
	}
	ar.expect(ar.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", basic("ci", secret)), 401, "UNAUTHORIZED", "revoked key")
	ar.expect(ar.do("GET", "/v2/token?scope=repository:ci/app:pull", nil, "Authorization", basic("ci", secret)), 401, "UNAUTHORIZED", "revoked key at token endpoint")
}

func TestAuthRateLimit(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{limits: auth.Limits{PairBurst: 3, AddrBurst: 100, Window: time.Minute}})
	ar.account("alice", identity.Human)
	for i := range 3 {
		ar.expect(ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "guess")), 401, "UNAUTHORIZED", "guess "+itoa(i))
	}
	r := ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "alice-password"))
	ar.expect(r, 429, "TOOMANYREQUESTS", "right password past the limit")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	ar.expect(ar.do("GET", "/v2/token?scope=repository:a:pull", nil, "Authorization", basic("alice", "alice-password")), 429, "TOOMANYREQUESTS", "token endpoint past the limit")
	if ar.events.count(audit.LoginFailed, "rate_limited") == 0 {
		t.Error("rate-limited login not audited")
	}
	// The bucket drains with time.
	ar.clock.add(30 * time.Second)
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", basic("alice", "alice-password")), 200, "", "after the window")
	// Another account from the same address is not locked by alice's.
	ar.account("bob", identity.Human)
	ar.expect(ar.do("GET", "/v2/", nil, "Authorization", basic("bob", "bob-password")), 200, "", "other account")
}

// A burst of logins from one address (a CI fleet behind NAT) queues for
// the address's check slot instead of being refused: different accounts
// wait their turn, and identical credentials share one check.
func TestAuthLoginBurstOneAddress(t *testing.T) {
	ar := newAuthRegistry(t, authSetup{limits: auth.Limits{AddrChecks: 1}})
	const n = 12
	creds := make([]string, 0, 2*n)
	for i := range n {
		name := "robot" + itoa(i)
		ar.account(name, identity.System)
		creds = append(creds, basic(name, name+"-password"), basic("robot0", "robot0-password"))
	}
	codes := make([]int, len(creds))
	var wg sync.WaitGroup
	for i, c := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = ar.do("GET", "/v2/token?scope=repository:a:pull", nil, "Authorization", c).status
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("login %d of the burst: %d", i, code)
		}
	}
}

func digestOf(b []byte) string { return digest.FromBytes(b).String() }

func itoa(n int) string { return strconv.Itoa(n) }

// With pull auditing on, a manifest GET is an audit event; a HEAD and blob
// reads are not, and with it off (the default, every other test) no pull
// is recorded.
func TestAuditPulls(t *testing.T) {
	for _, on := range []bool{false, true} {
		ar := newAuthRegistry(t, authSetup{auditPulls: on})
		ar.account("root", identity.Human, identity.RoleAdmin)
		root := basic("root", "root-password")
		ar.expect(ar.pushImage(root, "a", "v1"), 201, "", "push")
		ar.expect(ar.do("GET", "/v2/a/manifests/v1", nil, "Authorization", root, "Accept", ociManifest), 200, "", "GET manifest")
		ar.expect(ar.do("HEAD", "/v2/a/manifests/v1", nil, "Authorization", root, "Accept", ociManifest), 200, "", "HEAD manifest")
		want := 0
		if on {
			want = 1
		}
		if n := ar.events.count(audit.Pull, "success"); n != want {
			t.Errorf("pull auditing %v: %d pull events, want %d", on, n, want)
		}
	}
}
