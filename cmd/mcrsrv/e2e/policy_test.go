package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The accounts TestClientsPolicy creates offline, before the server starts.
//
//   - ci-robot, a system account: rule ci-push allows it pull and push on
//     ci/** (every repository under ci/; "ci/*" would stop at one level and
//     miss ci/<client>/app). Nothing grants it prod/.
//   - reader, a system account: rule ci-pull allows it pull on ci/**, and
//     it logs in with an access key. It is a system account on purpose: the
//     built-in rule builtin:human lets every human push everywhere, so a
//     pull-only human would need a deny rule; a system account gets nothing
//     but what rules grant, which is what "pull-only" means here.
//   - admin, the first admin: only the test's own HTTP checks use it.
const (
	ciUser     = "ci-robot"
	ciPassword = "ci-robot-password"
	readerUser = "reader"
	adminPW    = "admin-password"
)

// loginSpec says how a client authenticates: either login commands that
// store the credentials in its isolated configuration, or credentials added
// to each command.
type loginSpec struct {
	login     func(host, user, pass string) []string
	withCreds func(args []string, user, pass string) []string
}

var loginSpecs = map[string]loginSpec{
	"crane": {login: func(host, user, pass string) []string {
		return []string{"auth", "login", host, "-u", user, "-p", pass}
	}},
	"oras": {login: func(host, user, pass string) []string {
		return []string{"login", "--plain-http", "-u", user, "-p", pass, host}
	}},
	// after the regctlSpec setup (registry set --tls disabled)
	"regctl": {login: func(host, user, pass string) []string {
		return []string{"registry", "login", "-u", user, "-p", pass, host}
	}},
	// skopeo copy takes credentials per side; the other side is a local
	// OCI layout, which ignores them.
	"skopeo": {withCreds: func(args []string, user, pass string) []string {
		i := slices.Index(args, "copy")
		creds := user + ":" + pass
		return slices.Concat(args[:i+1], []string{"--src-creds", creds, "--dest-creds", creds}, args[i+1:])
	}},
}

// TestClientsPolicy prepares a data directory with the offline account and
// policy commands, starts a server with builtin auth on it, and drives each
// client as ci-robot (push to ci/ works, to prod/ is DENIED), as reader
// (pull works, push is DENIED) and anonymously (pull is refused, 401). Every
// outcome is confirmed over plain HTTP.
func TestClientsPolicy(t *testing.T) {
	requireE2E(t)
	requireOwnServer(t, "with prepared accounts")
	dir := workDir(t, "policy")
	data := filepath.Join(dir, "data")
	readerKey := preparePolicyData(t, dir, data)
	reg := startRegistryOn(t, data, "MCR_AUTH_MODE=builtin")
	admin := authProbe(reg, "admin", adminPW)
	for _, spec := range clientSpecs {
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			runPolicyClient(t, reg, spec, admin, readerKey)
		})
	}
}

// preparePolicyData runs mcrsrv init and the offline commands on data and
// returns reader's access key.
func preparePolicyData(t *testing.T, dir, data string) string {
	t.Helper()
	mcrsrv := command{t: t, bin: serverBinary(t), env: append(serverEnviron(), "MCR_LOG_LEVEL=warn"), timeout: time.Minute}
	run := func(args ...string) string {
		t.Helper()
		r := mcrsrv.run(args...)
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.stdout
	}
	files := map[string]string{"admin-pw": adminPW, "ci-pw": ciPassword}
	for name, pw := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "--data", data, "--admin-password-file", filepath.Join(dir, "admin-pw"))
	run("account", "add", "--data", data, "--name", ciUser, "--type", "system", "--password-file", filepath.Join(dir, "ci-pw"))
	run("account", "add", "--data", data, "--name", readerUser, "--type", "system", "--no-password")
	out := strings.Split(strings.TrimSpace(run("account", "key", "add", "--data", data, "--name", readerUser, "--description", "e2e")), "\n")
	key := out[len(out)-1]
	if !strings.HasPrefix(key, "mcr_") {
		t.Fatalf("account key add printed %q last, want the key", key)
	}
	run("policy", "add", "--data", data, "--id", "ci-push", "--priority", "10", "--effect", "allow", "--subject-account", ciUser,
		"--action", "pull", "--action", "push", "--repo", "ci/**", "--description", "the CI robot publishes under ci/")
	run("policy", "add", "--data", data, "--id", "ci-pull", "--priority", "10", "--effect", "allow", "--subject-account", readerUser,
		"--action", "pull", "--repo", "ci/**", "--description", "reader may only pull from ci/")
	t.Logf("policy prepared offline:\n%s", run("policy", "ls", "--data", data))
	return key
}

// basicAuth adds Basic credentials to every request: the test's own HTTP
// checks authenticate straight on /v2/, without the token flow.
type basicAuth struct{ user, pass string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}

// authProbe is a probe that sends user's credentials; user "" is anonymous.
func authProbe(reg *registry, user, pass string) *probe {
	p := newProbe(reg)
	if user != "" {
		p.client.Transport = basicAuth{user, pass}
	}
	return p
}

// session is one client run as one caller, with its own configuration.
type session struct {
	spec  clientSpec
	login loginSpec
	bin   string
	env   []string
	user  string
	pass  string
}

// newSession prepares the client's isolated configuration and logs in as
// user (anonymous when user is "").
func newSession(t *testing.T, reg *registry, spec clientSpec, dir, user, pass string) *session {
	t.Helper()
	s := &session{spec: spec, login: loginSpecs[spec.name], bin: tool(t, spec.name), env: isolatedEnv(t, dir), user: user, pass: pass}
	if s.login.login == nil && s.login.withCreds == nil {
		t.Fatalf("no loginSpec for %s", spec.name)
	}
	var setup [][]string
	if spec.setup != nil {
		setup = spec.setup(reg.host)
	}
	if user != "" && s.login.login != nil {
		setup = append(setup, s.login.login(reg.host, user, pass))
	}
	for _, args := range setup {
		if r := s.run(t, args); r.err != nil {
			t.Fatal(r.err)
		}
	}
	return s
}

// run runs the client with the session's credentials; the caller judges
// the result.
func (s *session) run(t *testing.T, args []string) result {
	t.Helper()
	if s.user != "" && s.login.withCreds != nil {
		args = s.login.withCreds(args, s.user, s.pass)
	}
	return command{t: t, bin: s.bin, env: s.env, timeout: clientTimeout}.run(args...)
}

// refused requires that r failed and that its output carries one of words.
// Clients differ: a push to a repository the caller may not even pull
// first fails on a HEAD, whose 403 has no body, so crane, oras and skopeo
// can only say "403"; a refused manifest PUT shows DENIED (or skopeo's
// "denied") in all four. The registry's exact answer (403 and the OCI code
// DENIED) is therefore checked over HTTP by the caller.
func refused(t *testing.T, what string, r result, words ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("%s succeeded, want it refused", what)
	}
	out := strings.ToLower(r.stdout + r.stderr)
	for _, w := range words {
		if strings.Contains(out, strings.ToLower(w)) {
			t.Logf("refused as expected: %s (client output mentions %q): %s", what, w, tail(r.stderr, 300))
			return
		}
	}
	t.Fatalf("%s failed, but its output names none of %v:\n%s", what, words, tail(r.stdout+"\n"+r.stderr, 2000))
}

// ociError is the distribution-spec error body.
type ociError struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// expectStatus sends method path through p and requires status and, when
// code is set, that OCI error code in the body.
func expectStatus(t *testing.T, p *probe, method, path string, status int, code string) {
	t.Helper()
	r, err := p.do(method, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != status {
		t.Fatalf("%s %s: %d %s, want %d %s", method, path, r.status, tail(string(r.body), 300), status, code)
	}
	if code != "" {
		var e ociError
		if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code != code {
			t.Fatalf("%s %s: %d with body %q, want error code %s", method, path, r.status, tail(string(r.body), 300), code)
		}
		t.Logf("verified: %s %s answers %d %s: %s %s", method, path, r.status, code, e.Errors[0].Message, e.Errors[0].Detail)
		return
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Fatalf("%s %s: 401 without a Bearer challenge (WWW-Authenticate %q)", method, path, r.header.Get("WWW-Authenticate"))
	}
	t.Logf("verified: %s %s answers %d", method, path, status)
}

func runPolicyClient(t *testing.T, reg *registry, spec clientSpec, admin *probe, readerKey string) {
	dir := workDir(t, spec.name)
	fix := newFixture(t, filepath.Join(dir, "fixture"), spec.name)
	ciRepo := "ci/" + spec.name + "/app"
	prodRepo := "prod/" + spec.name + "/app"
	ref := func(repo, tag string) string { return reg.host + "/" + repo + ":" + tag }
	uploads := func(repo string) string { return "/v2/" + repo + "/blobs/uploads/" }
	ok := map[string]bool{}
	step := func(name string, needs []string, fn func(t *testing.T)) {
		ok[name] = t.Run(name, func(t *testing.T) {
			for _, n := range needs {
				if !ok[n] {
					t.Fatalf("not run: needs step %q, which failed", n)
				}
			}
			fn(t)
		})
	}

	var ci *session
	step("ci-login", nil, func(t *testing.T) {
		ci = newSession(t, reg, spec, filepath.Join(dir, "ci"), ciUser, ciPassword)
	})
	step("ci-push", []string{"ci-login"}, func(t *testing.T) {
		if r := ci.run(t, spec.push(fix.imageDir, "v1", ref(ciRepo, "v1"), false)); r.err != nil {
			t.Fatal(r.err)
		}
		// As ci-robot over HTTP: what it pushed is there, byte for byte.
		p := authProbe(reg, ciUser, ciPassword)
		got, err := p.manifestDigest(ciRepo, "v1")
		if err != nil {
			t.Fatal(err)
		}
		if got != fix.image.Digest {
			t.Fatalf("%s:v1 is %s, want the pushed %s", ciRepo, got, fix.image.Digest)
		}
		n, err := verifyTree(p.fetcher(ciRepo), fix.image)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("verified: %s:v1 = %s; %d manifests and blobs downloaded as %s, all match", ciRepo, got, n, ciUser)
	})
	step("ci-push-prod-denied", []string{"ci-login"}, func(t *testing.T) {
		r := ci.run(t, spec.push(fix.imageDir, "v1", ref(prodRepo, "v1"), false))
		refused(t, "push to "+prodRepo+" as "+ciUser, r, "denied", "403")
		expectStatus(t, authProbe(reg, ciUser, ciPassword), http.MethodPost, uploads(prodRepo), http.StatusForbidden, "DENIED")
		expectStatus(t, authProbe(reg, ciUser, ciPassword), http.MethodGet, "/v2/"+prodRepo+"/manifests/v1", http.StatusForbidden, "DENIED")
		if code, err := admin.manifestStatus(prodRepo, "v1"); err != nil || code != http.StatusNotFound {
			t.Fatalf("HEAD %s:v1 as admin: %d, %v; want 404 (nothing pushed)", prodRepo, code, err)
		}
	})

	step("reader-pull", []string{"ci-push"}, func(t *testing.T) {
		reader := newSession(t, reg, spec, filepath.Join(dir, "reader"), readerUser, readerKey)
		out := filepath.Join(dir, "pull-reader")
		if r := reader.run(t, spec.pull(ref(ciRepo, "v1"), out, "v1", false)); r.err != nil {
			t.Fatal(r.err)
		}
		n, err := verifyLayout(out, fix.image.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("verified: %s pulled %s:v1 with an access key; layout root %s and %d blobs re-hashed", readerUser, ciRepo, fix.image.Digest, n)

		// The blobs exist, so a client only needs to PUT the manifest:
		// that is what the policy refuses.
		r := reader.run(t, spec.push(fix.imageDir, "v1", ref(ciRepo, "by-reader"), false))
		refused(t, "push to "+ciRepo+" as "+readerUser, r, "denied", "403")
		p := authProbe(reg, readerUser, readerKey)
		expectStatus(t, p, http.MethodPost, uploads(ciRepo), http.StatusForbidden, "DENIED")
		expectStatus(t, p, http.MethodPut, "/v2/"+ciRepo+"/manifests/by-reader", http.StatusForbidden, "DENIED")
		if code, err := admin.manifestStatus(ciRepo, "by-reader"); err != nil || code != http.StatusNotFound {
			t.Fatalf("HEAD %s:by-reader as admin: %d, %v; want 404 (nothing pushed)", ciRepo, code, err)
		}
	})

	step("anonymous-refused", []string{"ci-push"}, func(t *testing.T) {
		anon := newSession(t, reg, spec, filepath.Join(dir, "anonymous"), "", "")
		r := anon.run(t, spec.pull(ref(ciRepo, "v1"), filepath.Join(dir, "pull-anon"), "v1", false))
		refused(t, "anonymous pull of "+ciRepo, r, "unauthorized", "401", "authentication required")
		p := authProbe(reg, "", "")
		expectStatus(t, p, http.MethodGet, "/v2/"+ciRepo+"/manifests/v1", http.StatusUnauthorized, "")
		expectStatus(t, p, http.MethodPost, uploads(ciRepo), http.StatusUnauthorized, "")
	})
}
