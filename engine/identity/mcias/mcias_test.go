package mcias

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// fakeMCIAS speaks the contract over TLS 1.3 only.
type fakeMCIAS struct {
	srv      *httptest.Server
	caFile   string
	logins   atomic.Int64
	validate atomic.Int64
	mu       sync.Mutex
	tokens   map[string]validateReply
}

func newFake(t *testing.T) *fakeMCIAS {
	t.Helper()
	f := &fakeMCIAS{tokens: map[string]validateReply{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		f.logins.Add(1)
		var req struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if req.Username != "kyle" || req.Password != "hunter22" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tok := "tok-" + req.Username
		f.mu.Lock()
		f.tokens[tok] = validateReply{Valid: true, Sub: "u-kyle", Username: "kyle", AccountType: "human", Roles: []string{"admin"},
			ExpiresAt: time.Now().Add(time.Hour)}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(loginReply{Token: tok, ExpiresAt: time.Now().Add(time.Hour)})
	})
	mux.HandleFunc("POST /v1/token/validate", func(w http.ResponseWriter, r *http.Request) {
		f.validate.Add(1)
		var req struct{ Token string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		v, ok := f.tokens[req.Token]
		f.mu.Unlock()
		if !ok {
			_ = json.NewEncoder(w).Encode(validateReply{Valid: false})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoginAndValidate(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	clk := clock.At(time.Now())
	c, err := New(Options{URL: f.srv.URL, CAFile: f.caFile, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Login(ctx, "kyle", "hunter22")
	if err != nil || p.ID != "u-kyle" || p.Name != "kyle" || p.Type != "human" || len(p.Roles) != 1 {
		t.Fatalf("Login = %+v, %v", p, err)
	}
	if _, err := c.Login(ctx, "kyle", "wrong"); errcode.KindOf(err) != errcode.Unauthorized {
		t.Errorf("wrong password: %v", err)
	}
	// Positive logins are cached for 30 s.
	n := f.logins.Load()
	if _, err := c.Login(ctx, "kyle", "hunter22"); err != nil || f.logins.Load() != n {
		t.Errorf("cached login went to MCIAS (%v)", err)
	}
	clk.Add(31 * time.Second)
	if _, err := c.Login(ctx, "kyle", "hunter22"); err != nil || f.logins.Load() != n+1 {
		t.Errorf("expired cache entry not refreshed (%v)", err)
	}

	// Tokens.
	v := f.validate.Load()
	if p, err := c.Validate(ctx, "tok-kyle"); err != nil || p.ID != "u-kyle" {
		t.Fatalf("Validate = %+v, %v", p, err)
	}
	if _, err := c.Validate(ctx, "tok-kyle"); err != nil || f.validate.Load() != v+1 {
		t.Errorf("validation not cached: %d calls", f.validate.Load()-v)
	}
	for range 2 {
		if _, err := c.Validate(ctx, "forged"); errcode.KindOf(err) != errcode.Unauthorized {
			t.Errorf("forged token: %v", err)
		}
	}
	if got := f.validate.Load(); got != v+3 {
		t.Errorf("negative answers must not be cached: %d calls, want %d", got, v+3)
	}
}

func TestTLS(t *testing.T) {
	f := newFake(t)
	// Without the CA the server's certificate is not trusted.
	c, err := New(Options{URL: f.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), "kyle", "hunter22"); err == nil || errcode.KindOf(err) == errcode.Unauthorized {
		t.Errorf("untrusted certificate accepted or mistaken for bad credentials: %v", err)
	}
	for _, bad := range []Options{
		{URL: "http://mcias.test"}, {URL: "mcias.test"}, {URL: f.srv.URL, CAFile: "/nonexistent"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	// A server limited to TLS 1.2 is refused.
	old := httptest.NewUnstartedServer(http.NotFoundHandler())
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	old.StartTLS()
	defer old.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: old.Certificate().Raw}), 0o600)
	c2, err := New(Options{URL: old.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Validate(context.Background(), "x"); err == nil || errcode.KindOf(err) == errcode.Unauthorized {
		t.Errorf("TLS 1.2 server: %v", err)
	}
}
