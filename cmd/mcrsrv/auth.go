package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/durable"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/identity/mcias"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// initialPasswordFile is where a generated first-admin password is
// written, mode 0600, inside the data directory.
const initialPasswordFile = "initial-admin-password"

// setupAuth builds the authenticator of c.Auth.Mode, its audit events
// going to rec: nil for "none", after a loud warning. In builtin mode a
// data directory without accounts gets its first admin (bootstrapAdmin).
func setupAuth(ctx context.Context, c Config, store kv.Store, rec audit.Recorder, log zerolog.Logger) (*auth.Auth, func(), error) {
	if c.Auth.Mode == "none" {
		log.Warn().Str("addr", c.Addr).
			Msg("AUTHENTICATION IS OFF (auth.mode = none): anyone who reaches this address can pull, push and delete everything. Use it for local development only.")
		return nil, func() {}, nil
	}
	ids, err := identity.New(ctx, store, identity.Options{
		Service: c.Auth.Service, TokenTTL: c.Auth.TokenTTL.Duration, RefreshTTL: c.Auth.RefreshTTL.Duration,
		LoginCacheTTL: c.Auth.loginCacheTTL(),
	})
	if err != nil {
		return nil, nil, err
	}
	pol, err := policy.NewEngine(ctx, store, nil)
	if err != nil {
		return nil, nil, err
	}
	pol.WithAudit(rec)
	o := auth.Options{
		Mode: auth.Mode(c.Auth.Mode), Identity: ids, Policy: pol, Realm: c.Auth.Realm, Proxies: c.proxies(),
		Audit: rec, AuditPulls: c.Audit.Pulls,
	}
	if _, single := store.(kv.SingleProcess); !single {
		// Replicas share the failed-login limits through the store.
		o.Failures = identity.NewFailures(store)
	}
	closeFn := func() {}
	switch o.Mode {
	case auth.ModeBuiltin:
		if err := bootstrapAdmin(ctx, ids, c.Data, c.Auth.AdminUser, "", log); err != nil && !errors.Is(err, identity.ErrInitialized) {
			return nil, nil, err
		}
	case auth.ModeMCIAS:
		cl, err := mcias.New(mcias.Options{URL: c.Auth.MCIAS.URL, CAFile: c.Auth.MCIAS.CAFile, Timeout: c.Auth.MCIAS.Timeout.Duration})
		if err != nil {
			return nil, nil, err
		}
		o.MCIAS = cl
		closeFn = cl.Close
	}
	return auth.New(o), closeFn, nil
}

// followPolicy keeps authn's rules current with the changes other
// replicas commit (policy.Engine.Follow) until the returned stop is
// called; nothing to follow with auth off.
func followPolicy(ctx context.Context, authn *auth.Auth, log zerolog.Logger) (stop func()) {
	if authn == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		authn.Policy().Follow(ctx, func(err error) {
			log.Warn().Err(err).Str("component", "policy").Msg("reloading the policy rules after a change elsewhere failed; retrying")
		})
	}()
	return func() { cancel(); <-done }
}

// bootstrapAdmin creates the first admin when the registry has no account.
// A generated password goes to DATA/initial-admin-password (0600) and only
// that path is logged: the password never reaches a log line that may be
// shipped elsewhere. It returns identity.ErrInitialized when accounts
// exist.
func bootstrapAdmin(ctx context.Context, ids *identity.Service, data, user, password string, log zerolog.Logger) error {
	generated := password == ""
	a, pw, err := ids.Bootstrap(ctx, user, password)
	if err != nil {
		return err
	}
	ev := log.Warn().Str("account", a.Name).Str("account_id", a.ID)
	if generated {
		path := filepath.Join(data, initialPasswordFile)
		if err := writeSecret(path, pw+"\n"); err != nil {
			return fmt.Errorf("writing the first admin's password: %w", err)
		}
		ev = ev.Str("password_file", path)
	}
	ev.Msg("created the first admin account; change its password and delete the password file once you have it")
	return nil
}

// writeSecret writes s to a new file readable by its owner only.
func writeSecret(path, s string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return durable.WriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	})
}

// readSecret reads a password file, without its trailing newline.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
