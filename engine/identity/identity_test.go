package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// cheap keeps argon2id fast in tests; the format and the code path are the
// real ones.
var cheap = HashParams{Time: 1, Memory: 64, Threads: 1}

func newStore(t testing.TB) kv.Store { return enginetest.Memory(t) }

func newService(t testing.TB, store kv.Store, c *clock.Clock, o Options) *Service {
	t.Helper()
	o.Hash = cheap
	if c != nil {
		o.Now = c.Now
	}
	s, err := New(context.Background(), store, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPasswordHash(t *testing.T) {
	h := HashPassword("correct horse", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not a PHC argon2id string", h)
	}
	if !VerifyPassword("correct horse", h) {
		t.Error("right password refused")
	}
	if VerifyPassword("correct horsf", h) || VerifyPassword("", h) {
		t.Error("wrong password accepted")
	}
	if h2 := HashPassword("correct horse", cheap); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	// The default parameters are the ones written into the hash.
	d := HashPassword("x", HashParams{Time: 2, Memory: 128, Threads: 2})
	if !strings.Contains(d, "m=128,t=2,p=2") || !VerifyPassword("x", d) {
		t.Errorf("params not honoured: %q", d)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", "plaintext"} {
		if VerifyPassword("x", bad) {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

func TestAccountsAndLogin(t *testing.T) {
	ctx := context.Background()
	s := newService(t, newStore(t), nil, Options{})
	alice, err := s.CreateAccount(ctx, NewAccount{Name: "alice", Type: Human, Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, NewAccount{Name: "alice", Type: Human, Password: "another-one"}); errcode.KindOf(err) != errcode.Conflict {
		t.Errorf("duplicate name: %v", err)
	}
	for _, bad := range []NewAccount{
		{Name: "", Type: Human, Password: "password1"},
		{Name: "a:b", Type: Human, Password: "password1"},
		{Name: "bob", Type: "robot", Password: "password1"},
		{Name: "bob", Type: Human},
		{Name: "bob", Type: Human, Password: "short"},
		{Name: "bob", Type: Human, Password: "password1", Roles: []string{"Admin!"}},
	} {
		if _, err := s.CreateAccount(ctx, bad); errcode.KindOf(err) != errcode.Invalid {
			t.Errorf("CreateAccount(%+v) = %v, want Invalid", bad, err)
		}
	}
	p, err := s.Login(ctx, "alice", "alice-password")
	if err != nil || p.ID != alice.ID || p.Type != Human || p.Name != "alice" {
		t.Fatalf("Login = %+v, %v", p, err)
	}
	for _, c := range []struct {
		name, pw string
		reason   error
	}{
		{"alice", "wrong-password", ErrBadPassword},
		{"mallory", "alice-password", ErrUnknownAccount},
		{"alice", "", ErrBadPassword},
	} {
		_, err := s.Login(ctx, c.name, c.pw)
		if errcode.KindOf(err) != errcode.Unauthorized || !errors.Is(err, c.reason) {
			t.Errorf("Login(%s, %s) = %v, want Unauthorized because %v", c.name, c.pw, err, c.reason)
		}
		var e *errcode.Error
		if errors.As(err, &e) && e.Message != "invalid username or password" {
			t.Errorf("message %q tells the client too much", e.Message)
		}
	}

	// The cached login is re-checked: disabling the account or changing
	// the password takes effect at once.
	if err := s.SetEnabled(ctx, alice.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "alice-password"); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled account logged in: %v", err)
	}
	if _, err := s.Principal(ctx, alice.ID); !errors.Is(err, ErrDisabled) {
		t.Errorf("Principal of disabled account: %v", err)
	}
	if err := s.SetEnabled(ctx, alice.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "alice-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, alice.ID, "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "alice-password"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("old password after change: %v", err)
	}
	if _, err := s.Login(ctx, "alice", "new-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := s.SetRoles(ctx, alice.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Login(ctx, "alice", "new-password"); len(p.Roles) != 1 || p.Roles[0] != "admin" {
		t.Errorf("roles after SetRoles: %+v", p)
	}
	all, err := s.Accounts(ctx)
	if err != nil || len(all) != 1 {
		t.Errorf("Accounts = %v, %v", all, err)
	}
	if err := s.DeleteAccount(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "new-password"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("deleted account: %v", err)
	}
}

func TestAccessKeys(t *testing.T) {
	ctx := context.Background()
	s := newService(t, newStore(t), nil, Options{})
	ci, err := s.CreateAccount(ctx, NewAccount{Name: "ci", Type: System})
	if err != nil {
		t.Fatal(err)
	}
	human, _ := s.CreateAccount(ctx, NewAccount{Name: "h", Type: Human, Password: "password1"})
	if _, _, err := s.CreateAccessKey(ctx, human.ID, ""); errcode.KindOf(err) != errcode.Invalid {
		t.Errorf("access key for a human: %v", err)
	}
	k, secret, err := s.CreateAccessKey(ctx, ci.ID, "pipeline")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "mcr_"+k.ID+"_") {
		t.Errorf("secret %q does not name key %s", secret, k.ID)
	}
	if p, err := s.Login(ctx, "ci", secret); err != nil || p.ID != ci.ID || p.Type != System {
		t.Fatalf("login with key: %+v %v", p, err)
	}
	// A system account without a password cannot log in with one.
	if _, err := s.Login(ctx, "ci", "anything-at-all"); !errors.Is(err, ErrNoPassword) {
		t.Errorf("password login of key-only account: %v", err)
	}
	// The key belongs to ci only.
	if _, err := s.Login(ctx, "h", secret); !errors.Is(err, ErrBadKey) {
		t.Errorf("key used by another account: %v", err)
	}
	// A tampered secret fails.
	last := byte('A')
	if secret[len(secret)-1] == 'A' {
		last = 'B'
	}
	bad := secret[:len(secret)-1] + string(last)
	if _, err := s.Login(ctx, "ci", bad); !errors.Is(err, ErrBadKey) {
		t.Errorf("tampered key: %v", err)
	}
	keys, err := s.AccessKeys(ctx, ci.ID)
	if err != nil || len(keys) != 1 || keys[0].Description != "pipeline" {
		t.Errorf("AccessKeys = %+v, %v", keys, err)
	}
	// Revocation applies at once, even to a cached login.
	if err := s.RevokeAccessKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "ci", secret); !errors.Is(err, ErrBadKey) {
		t.Errorf("revoked key: %v", err)
	}
	if keys, _ := s.AccessKeys(ctx, ci.ID); keys[0].Revoked.IsZero() {
		t.Error("revocation not recorded")
	}
	if err := s.RevokeAccessKey(ctx, "0000000000000000"); errcode.KindOf(err) != errcode.NameUnknown {
		t.Errorf("revoke unknown: %v", err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	c := clock.At(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newService(t, newStore(t), c, Options{Service: "registry.test", TokenTTL: time.Minute})
	p := Principal{ID: "id-1", Name: "ci", Type: System, Roles: []string{"ci"}}
	access := []Access{{Type: "repository", Name: "ci/app", Actions: []string{"pull", "push"}}}
	iss, err := s.IssueToken(p, access)
	if err != nil {
		t.Fatal(err)
	}
	if iss.ExpiresIn != time.Minute || !iss.IssuedAt.Equal(c.Now()) {
		t.Errorf("issued %+v", iss)
	}
	cl, err := s.VerifyToken(iss.Token)
	if err != nil {
		t.Fatal(err)
	}
	got := cl.Principal()
	if got.ID != p.ID || got.Name != p.Name || got.Type != p.Type || len(got.Roles) != 1 {
		t.Errorf("principal %+v", got)
	}
	if !cl.Grants("repository", "ci/app", "push") || cl.Grants("repository", "ci/app", "delete") || cl.Grants("repository", "prod/app", "pull") {
		t.Errorf("grants wrong: %+v", cl.Access)
	}
	if !s.LooksLikeToken(iss.Token) || s.LooksLikeToken("opaque-token") {
		t.Error("LooksLikeToken")
	}

	// Expiry (with the 5 s leeway).
	c.Add(time.Minute + 6*time.Second)
	if _, err := s.VerifyToken(iss.Token); errcode.KindOf(err) != errcode.Unauthorized {
		t.Errorf("expired token: %v", err)
	}
}

func TestTokenRejected(t *testing.T) {
	c := clock.At(time.Now())
	store := newStore(t)
	s := newService(t, store, c, Options{Service: "registry.test"})
	p := Principal{ID: "id-1", Name: "ci", Type: System}
	good, _ := s.IssueToken(p, []Access{{Type: "repository", Name: "a", Actions: []string{"pull"}}})
	refresh, _ := s.IssueRefresh(p)

	// Same keys, another audience: a token for one service is no good at another.
	other := newService(t, store, c, Options{Service: "other.test"})
	foreign, _ := other.IssueToken(p, nil)
	// A different key altogether.
	stranger := newService(t, newStore(t), c, Options{Service: "registry.test"})
	forged, _ := stranger.IssueToken(p, nil)

	parts := strings.Split(good.Token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	elevated := strings.Replace(string(claims), `"pull"`, `"push"`, 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(elevated)) + "." + parts[2]
	sig := []byte(parts[2])
	sig[5] ^= 1
	badSig := parts[0] + "." + parts[1] + "." + string(sig)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"sub": "id-1", "aud": "registry.test", "iss": "mcr", "use": "access", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "id-1", "aud": "registry.test", "iss": "mcr", "use": "access", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("secret"))

	for name, tok := range map[string]string{
		"wrong audience": foreign.Token, "foreign key": forged.Token, "tampered claims": tampered,
		"bad signature": badSig, "alg none": none, "HS256": hs, "refresh as access": refresh.Token,
		"garbage": "not.a.token", "empty": "",
	} {
		if _, err := s.VerifyToken(tok); errcode.KindOf(err) != errcode.Unauthorized {
			t.Errorf("%s: verified (%v)", name, err)
		}
	}
	if _, err := s.VerifyRefresh(good.Token); err == nil {
		t.Error("access token accepted as refresh token")
	}
	if cl, err := s.VerifyRefresh(refresh.Token); err != nil || cl.Subject != "id-1" || len(cl.Access) != 0 {
		t.Errorf("refresh: %+v %v", cl, err)
	}
	// Not yet valid.
	c.Add(-time.Hour)
	if _, err := s.VerifyToken(good.Token); err == nil {
		t.Error("token used before it was issued")
	}
}

func TestSigningKeyPersists(t *testing.T) {
	store := newStore(t)
	a := newService(t, store, nil, Options{})
	tok, _ := a.IssueToken(Principal{ID: "x"}, nil)
	b := newService(t, store, nil, Options{}) // a restart
	if _, err := b.VerifyToken(tok.Token); err != nil {
		t.Errorf("token from before a restart: %v", err)
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	s := newService(t, newStore(t), nil, Options{})
	a, pw, err := s.Bootstrap(ctx, "admin", "")
	if err != nil || len(pw) < 20 || a.Roles[0] != RoleAdmin {
		t.Fatalf("Bootstrap = %+v %q %v", a, pw, err)
	}
	if p, err := s.Login(ctx, "admin", pw); err != nil || p.Roles[0] != RoleAdmin {
		t.Errorf("admin login: %+v %v", p, err)
	}
	if _, _, err := s.Bootstrap(ctx, "admin2", "password2"); !errors.Is(err, ErrInitialized) {
		t.Errorf("second Bootstrap: %v", err)
	}
}

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"repository:team/app:pull,push", "repository:team/app:pull,push", true},
		{"repository:a:pull", "repository:a:pull", true},
		{"repository(plugin):a:pull", "repository:a:pull", true},
		{"registry:catalog:*", "registry:catalog:*", true},
		{"repository:host:5000/a:pull", "repository:host:5000/a:pull", true},
		{"repository:a:pull,pull,", "repository:a:pull", true},
		{"repository:a:", "", false},
		{"repository::pull", "", false},
		{"repository:a", "", false},
		{"", "", false},
		{":a:pull", "", false},
	}
	for _, c := range cases {
		a, ok := ParseScope(c.in)
		if ok != c.ok || (ok && a.String() != c.want) {
			t.Errorf("ParseScope(%q) = %v %v, want %q %v", c.in, a, ok, c.want, c.ok)
		}
	}
}

func FuzzParseScope(f *testing.F) {
	f.Add("repository:a/b:pull,push")
	f.Add("registry:catalog:*")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseScope(s)
		if !ok {
			return
		}
		if a.Type == "" || a.Name == "" || len(a.Actions) == 0 {
			t.Fatalf("%q parsed to %+v", s, a)
		}
		if b, ok := ParseScope(a.String()); !ok || b.String() != a.String() {
			t.Fatalf("%q: not stable: %q", s, a.String())
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	s, err := New(context.Background(), enginetest.Memory(f), Options{Hash: cheap})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := s.IssueToken(Principal{ID: "x"}, nil)
	f.Add(tok.Token)
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := s.VerifyToken(in); err == nil && in != tok.Token {
			t.Fatalf("accepted %q", in)
		}
	})
}
