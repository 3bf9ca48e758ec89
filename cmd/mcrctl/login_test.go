package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// login writes a 0600 config holding a refresh token and never the
// password; later commands exchange the token; logout removes the file.
func TestLoginRefreshLogout(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "sub", "mcrctl.json")
	env := map[string]string{"MCR_CONFIG": cfgPath}
	r := ctl(t, env, adminPW+"\n", "login", "-u", "admin", "--password-stdin", srv.base+"/").ok(t)
	if !strings.Contains(r.stdout, "logged in") {
		t.Errorf("login said %q", r.stdout)
	}
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %04o, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(cfgPath)
	if strings.Contains(string(raw), adminPW) {
		t.Fatalf("the config file holds the password:\n%s", raw)
	}
	var cfg fileConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Server != srv.base || cfg.Username != "admin" || cfg.RefreshToken == "" || cfg.Realm != srv.base+"/v2/token" || cfg.Service == "" {
		t.Errorf("config %+v", cfg)
	}

	// A command with the refresh token only (no --server: the config's).
	var st apiv1.Status
	ctl(t, env, "", "-o", "json", "status").ok(t).decode(t, &st)
	if st.Version == "" || st.Started.IsZero() {
		t.Errorf("status %+v", st)
	}
	// Table output names the fields.
	if r := ctl(t, env, "", "status").ok(t); !strings.Contains(r.stdout, "repositories") || !strings.Contains(r.stdout, srv.base) {
		t.Errorf("status table:\n%s", r.stdout)
	}
	// --server naming another registry does not get this registry's token.
	ctl(t, env, "", "--server", "http://127.0.0.1:1", "--timeout", "2s", "status").want(t, exitError, "connection refused")

	ctl(t, env, "", "logout").ok(t)
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Errorf("config still there after logout: %v", err)
	}
	ctl(t, env, "", "status").want(t, exitUsage, "no server")
	// Logged out, naming the server: a 401.
	ctl(t, env, "", "--server", srv.base, "status").want(t, exitUnauthorized, "UNAUTHORIZED")
}

func TestLoginWrongPassword(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "mcrctl.json")
	ctl(t, map[string]string{"MCR_CONFIG": cfgPath}, "not-the-password", "login", "--username", "bob", "--password-stdin", srv.base).
		want(t, exitUnauthorized, "UNAUTHORIZED")
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Errorf("a failed login wrote the config: %v", err)
	}
	// The prompt path: username and password read from standard input.
	r := ctl(t, map[string]string{"MCR_CONFIG": cfgPath}, "bob\n"+bobPW+"\n", "login", srv.base).ok(t)
	if !strings.Contains(r.stderr, "Username:") || !strings.Contains(r.stderr, "Password:") {
		t.Errorf("prompts: %q", r.stderr)
	}
}

// MCR_TOKEN is a bearer access token used as is; --token wins over it.
func TestTokenFromEnv(t *testing.T) {
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}, "service": {"mcr"},
		"client_id": {"test"}, "scope": {apiScope}}
	resp, err := http.PostForm(srv.base+"/v2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tr tokenReply
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.token() == "" {
		t.Fatalf("token: %s %s", resp.Status, body)
	}
	env := map[string]string{"MCR_SERVER": srv.base, "MCR_TOKEN": tr.token(), "MCR_CONFIG": filepath.Join(t.TempDir(), "none.json")}
	var st apiv1.Status
	ctl(t, env, "", "-o", "json", "status").ok(t).decode(t, &st)
	if st.Version == "" {
		t.Errorf("status %+v", st)
	}
	ctl(t, env, "", "--token", "garbage", "status").want(t, exitUnauthorized, "UNAUTHORIZED")
}

// A non-admin account is refused the admin routes: exit 4 with DENIED.
func TestDenied(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "bob.json")
	env := map[string]string{"MCR_CONFIG": cfgPath}
	ctl(t, env, bobPW, "login", "--username", "bob", "--password-stdin", srv.base).ok(t)
	ctl(t, env, "", "status").want(t, exitUnauthorized, "DENIED")
	ctl(t, env, "", "gc", "run").want(t, exitUnauthorized, "DENIED")
	ctl(t, env, "", "account", "ls").want(t, exitUnauthorized, "DENIED")
}

func TestNotFoundAndUsage(t *testing.T) {
	admin(t, "repo", "show", "no/such/repo").want(t, exitNotFound, "NOT_FOUND")
	admin(t, "tag", "ls", "no/such/repo").want(t, exitNotFound, "NOT_FOUND")
	admin(t, "policy", "show", "no-such-rule").want(t, exitNotFound, "NOT_FOUND")
	admin(t, "account", "disable", "no-such-account").want(t, exitNotFound, "NOT_FOUND")
	admin(t, "repo", "show").want(t, exitUsage, "usage")
	admin(t, "repo", "ls", "--no-such-flag").want(t, exitUsage, "no-such-flag")
	admin(t, "-o", "yaml", "status").want(t, exitUsage, "--output")
	admin(t, "tag", "rm", "justarepo").want(t, exitUsage, "REPO:TAG")
	admin(t, "policy", "test").want(t, exitUsage, "action")
	// A server without a scheme: the error says what to write.
	host := strings.TrimPrefix(srv.base, "http://")
	ctl(t, nil, "", "login", "-u", "admin", host).want(t, exitUsage, "write https://"+host+", or http://"+host+" for a server without TLS")
	ctl(t, nil, "", "login", "-u", "admin", "ftp://"+host).want(t, exitUsage, "want http://HOST[:PORT]")
	admin(t, "--server", host, "status").want(t, exitUsage, "has no scheme")
}

// Against a server that answers without credentials (auth mode none),
// login saves only the server and later commands send no Authorization.
func TestLoginAuthNone(t *testing.T) {
	var sawAuth atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
		if r.URL.Path != "/api/v1/status" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"NOT_FOUND","message":"nope","detail":{"path":"` + r.URL.Path + `"}}}`))
			return
		}
		_, _ = w.Write([]byte(`{"version":"test","repositories":3}`))
	}))
	defer ts.Close()
	cfgPath := filepath.Join(t.TempDir(), "mcrctl.json")
	env := map[string]string{"MCR_CONFIG": cfgPath}
	ctl(t, env, "", "login", ts.URL).ok(t)
	raw, _ := os.ReadFile(cfgPath)
	var cfg fileConfig
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg.Server != ts.URL || cfg.RefreshToken != "" || cfg.Username != "" {
		t.Errorf("config %s: %v", raw, err)
	}
	var st apiv1.Status
	ctl(t, env, "", "-o", "json", "status").ok(t).decode(t, &st)
	if st.Version != "test" || st.Repositories != 3 {
		t.Errorf("status %+v", st)
	}
	r := ctl(t, env, "", "repo", "show", "a/b")
	r.want(t, exitNotFound, "NOT_FOUND")
	if !strings.Contains(r.stderr, "path: /api/v1/repositories/a/b") {
		t.Errorf("the error detail is not printed: %q", r.stderr)
	}
	if sawAuth.Load() {
		t.Error("credentials sent to a server in auth mode none")
	}
}

// --timeout bounds each call: a server that never answers is an error,
// not a hang.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	start := time.Now()
	ctl(t, map[string]string{"MCR_CONFIG": filepath.Join(t.TempDir(), "c.json")}, "", "--server", ts.URL, "--timeout", "200ms", "status").
		want(t, exitError, "deadline exceeded")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// An access token that expires during a long run (tail -f) is replaced
// with the refresh token and the call tried once more.
func TestExpiredTokenIsRefreshed(t *testing.T) {
	var issued atomic.Int32
	var mux http.ServeMux
	ts := httptest.NewServer(&mux)
	defer ts.Close()
	mux.HandleFunc("/v2/token", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != "rt" ||
			r.PostFormValue("scope") != apiScope || r.PostFormValue("client_id") != clientID || r.PostFormValue("service") != "svc" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := issued.Add(1)
		_, _ = w.Write([]byte(`{"token":"t` + strconv.Itoa(int(n)) + `","access_token":"t` + strconv.Itoa(int(n)) + `"}`))
	})
	mux.HandleFunc("/api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		// Only the second token is still good.
		if r.Header.Get("Authorization") != "Bearer t2" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+ts.URL+`/v2/token",service="svc"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"UNAUTHORIZED","message":"token expired"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"version":"refreshed"}`))
	})
	cfgPath := filepath.Join(t.TempDir(), "c.json")
	if err := saveConfig(cfgPath, fileConfig{Server: ts.URL, Username: "u", RefreshToken: "rt", Realm: ts.URL + "/v2/token", Service: "svc"}); err != nil {
		t.Fatal(err)
	}
	var st apiv1.Status
	ctl(t, map[string]string{"MCR_CONFIG": cfgPath}, "", "-o", "json", "status").ok(t).decode(t, &st)
	if st.Version != "refreshed" || issued.Load() != 2 {
		t.Errorf("status %+v after %d tokens", st, issued.Load())
	}
	// A token given with --token is never replaced: the 401 stands.
	ctl(t, map[string]string{"MCR_CONFIG": cfgPath}, "", "--token", "t1", "status").want(t, exitUnauthorized, "token expired")
}
