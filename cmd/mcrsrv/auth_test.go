package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
)

func TestAuthConfig(t *testing.T) {
	c, err := Load("", []string{"MCR_AUTH_MODE=mcias", "MCR_AUTH_MCIAS_URL=https://id.example", "MCR_AUTH_TOKEN_TTL=2m", "MCR_AUTH_SERVICE=reg.example"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.Mode != "mcias" || c.Auth.MCIAS.URL != "https://id.example" || c.Auth.TokenTTL.Minutes() != 2 || c.Auth.Service != "reg.example" {
		t.Errorf("env: %+v", c.Auth)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid mcias config: %v", err)
	}
	if d := Defaults(); d.Auth.Mode != "builtin" {
		t.Errorf("default auth mode %q, want builtin", d.Auth.Mode)
	}
	for _, bad := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.Auth.Mode = "open" }, "auth.mode"},
		{func(c *Config) { c.Auth.Mode = "mcias"; c.Auth.MCIAS.URL = "http://id.example" }, "auth.mcias.url"},
		{func(c *Config) { c.Auth.Realm = "/v2/token" }, "auth.realm"},
		{func(c *Config) { c.Auth.TokenTTL.Duration = 0 }, "auth.token_ttl"},
		{func(c *Config) { c.Auth.Service = "" }, "auth.service"},
	} {
		c := Defaults()
		bad.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, bad.want)
		}
	}
	c = Defaults()
	c.Auth.Mode, c.Auth.Service = "none", ""
	if err := c.Validate(); err != nil {
		t.Errorf("mode none needs no other auth key: %v", err)
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	c := Defaults()
	c.Data = filepath.Join(t.TempDir(), "data")
	c.Log.Level = "error"
	var out bytes.Buffer
	if err := initData(ctx, c, "", &out); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(c.Data, initialPasswordFile)
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
	pw, _ := readSecret(pwFile)
	if !strings.Contains(out.String(), pwFile) || strings.Contains(out.String(), pw) {
		t.Errorf("init output %q must name the file, not the password", out.String())
	}
	if err := initData(ctx, c, "", &out); err == nil || !strings.Contains(err.Error(), "already initialized") {
		t.Errorf("second init: %v", err)
	}
	store := enginetest.Open(t, c.Data).KV
	ids, err := identity.New(ctx, store, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ids.Login(ctx, "admin", pw); err != nil || p.Roles[0] != identity.RoleAdmin {
		t.Errorf("admin login with the generated password: %+v %v", p, err)
	}
}

func TestInitWithPasswordFile(t *testing.T) {
	c := Defaults()
	c.Data = t.TempDir()
	c.Auth.AdminUser = "root"
	c.Log.Level = "error"
	if err := initData(context.Background(), c, "chosen-password", &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Data, initialPasswordFile)); !os.IsNotExist(err) {
		t.Errorf("a given password was written to a file: %v", err)
	}
}

// The first serve on an empty data directory creates the admin and logs
// only where the password is.
func TestServeBootstrapsAdmin(t *testing.T) {
	ctx := context.Background()
	c := Defaults()
	c.Data = t.TempDir()
	store := enginetest.Open(t, c.Data).KV
	var logs bytes.Buffer
	a, done, err := setupAuth(ctx, c, store, audit.Log{L: zerolog.New(&logs)}, zerolog.New(&logs))
	if err != nil || a == nil {
		t.Fatalf("setupAuth: %v", err)
	}
	done()
	pw, err := readSecret(filepath.Join(c.Data, initialPasswordFile))
	if err != nil || len(pw) < 20 {
		t.Fatalf("password file: %q %v", pw, err)
	}
	if strings.Contains(logs.String(), pw) || !strings.Contains(logs.String(), initialPasswordFile) {
		t.Errorf("log %s", logs.String())
	}
	// A second start finds the admin and writes nothing.
	_ = os.Remove(filepath.Join(c.Data, initialPasswordFile))
	if _, done, err := setupAuth(ctx, c, store, audit.Log{L: zerolog.Nop()}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	} else {
		done()
	}
	if _, err := os.Stat(filepath.Join(c.Data, initialPasswordFile)); !os.IsNotExist(err) {
		t.Error("second start wrote a new password")
	}
	// Mode none builds nothing and warns.
	logs.Reset()
	c.Auth.Mode = "none"
	if a, _, err := setupAuth(ctx, c, store, audit.Log{L: zerolog.New(&logs)}, zerolog.New(&logs)); a != nil || err != nil || !strings.Contains(logs.String(), "AUTHENTICATION IS OFF") {
		t.Errorf("mode none: %v %v %s", a, err, logs.String())
	}
}
