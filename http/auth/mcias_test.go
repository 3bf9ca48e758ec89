package auth_test

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/identity/mcias"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// TestAuthMCIAS runs the registry with auth.mode = "mcias" against an
// in-test HTTPS (TLS 1.3) identity service speaking the MCIAS contract.
func TestAuthMCIAS(t *testing.T) {
	var logins atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		var req struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Username != "kyle" || req.Password != "from-mcias" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "mcias-token-kyle", "expires_at": time.Now().Add(time.Hour)})
	})
	mux.HandleFunc("POST /v1/token/validate", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Token string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Token != "mcias-token-kyle" {
			_ = json.NewEncoder(w).Encode(map[string]any{"valid": false})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"valid": true, "sub": "m-42", "username": "kyle", "account_type": "system",
			"roles": []string{"ci"}, "expires_at": time.Now().Add(time.Hour)})
	})
	idp := httptest.NewUnstartedServer(mux)
	idp.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	idp.StartTLS()
	defer idp.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := mcias.New(mcias.Options{URL: idp.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{Mode: auth.ModeMCIAS, MCIAS: client}})
	ar.Rule(policy.Rule{ID: "ci-role", Subject: policy.Subject{Role: "ci"}, Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})

	cred := servertest.Basic("kyle", "from-mcias")
	ar.Expect(ar.PushImage(cred, "ci/app", "v1"), 201, "", "push with MCIAS credentials")
	if n := logins.Load(); n != 1 {
		t.Errorf("%d MCIAS logins for one push: positive answers are not cached", n)
	}
	tok := ar.Token(cred, "repository:ci/app:pull")
	if tok.Scope != "repository:ci/app:pull" {
		t.Errorf("granted %q", tok.Scope)
	}
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer(tok.Token)), 200, "", "mcr token of an MCIAS user")
	// MCIAS's own token works as a bearer token too (validated by MCIAS).
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer("mcias-token-kyle")), 200, "", "MCIAS token")
	ar.Expect(ar.Do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", servertest.Bearer("forged")), 401, "UNAUTHORIZED", "forged token")
	ar.Expect(ar.Do("GET", "/v2/", nil, "Authorization", servertest.Basic("kyle", "wrong")), 401, "UNAUTHORIZED", "wrong MCIAS password")
	ar.Expect(ar.PushImage(cred, "prod/app", "v1"), 403, "DENIED", "push outside the role's repositories")
}
