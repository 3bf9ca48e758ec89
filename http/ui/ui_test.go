package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
	"git.wntrmute.dev/kyle/mcr/http/ui"
)

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if p := b.get("/ui/"); strings.Contains(p.body, `id="logout"`) || !strings.Contains(p.body, `id="login"`) {
		t.Fatal("an anonymous visitor is shown as signed in")
	}
	res := b.login("admin", "wrong-password").mustStatus(t, http.StatusUnauthorized)
	if !strings.Contains(res.body, "Wrong user name or password") || res.header.Get("WWW-Authenticate") != "" {
		t.Errorf("failed sign-in: %q, WWW-Authenticate %q", res.body, res.header.Get("WWW-Authenticate"))
	}
	res = b.login("admin", servertest.Password("admin")).mustStatus(t, http.StatusSeeOther)
	cookie := sessionCookie(res)
	for _, attr := range []string{"httponly", "samesite=strict", "path=/ui", "max-age=43200"} {
		if !strings.Contains(strings.ToLower(cookie), attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "secure") {
		t.Errorf("session cookie %q is Secure without TLS", cookie)
	}
	if p := b.get("/ui/"); !strings.Contains(p.body, `id="logout"`) || !strings.Contains(p.body, "admin") {
		t.Fatal("signed in, but the page does not say so")
	}
	// Sign out ends the session server-side: replaying the old cookie in
	// another browser does not sign anyone in.
	sessionID := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "mcr_session=")
	b.post("/ui/logout", url.Values{"csrf": {b.csrf()}}).mustStatus(t, http.StatusSeeOther)
	replay := e.browser()
	req, _ := http.NewRequest(http.MethodGet, base+"/ui/", nil)
	req.AddCookie(&http.Cookie{Name: "mcr_session", Value: sessionID})
	if p := replay.do(req); strings.Contains(p.body, `id="logout"`) {
		t.Error("the session cookie still signs in after sign-out")
	}
}

func TestSignInRateLimited(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for range 3 {
		b.login("admin", "wrong-password").mustStatus(t, http.StatusUnauthorized)
	}
	// The limiter is http/auth's: the right password is refused too,
	// until the bucket drains.
	b.login("admin", servertest.Password("admin")).mustStatus(t, http.StatusTooManyRequests)
}

func TestDisabledAccountSessionEnds(t *testing.T) {
	e := newEnv(t)
	a := e.Account("ann", identity.Human)
	b := e.signedIn(t, "ann")
	if p := b.get("/ui/"); !strings.Contains(p.body, `id="logout"`) {
		t.Fatal("not signed in")
	}
	if err := e.IDs.SetEnabled(context.Background(), a.ID, false); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/ui/"); strings.Contains(p.body, `id="logout"`) {
		t.Error("a disabled account's session still works")
	}
}

func TestLoginFormNeedsToken(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/ui/login")
	res := b.post("/ui/login", url.Values{"token": {"forged"}, "user": {"admin"}, "password": {servertest.Password("admin")}})
	res.mustStatus(t, http.StatusForbidden)
	if sessionCookie(res) != "" {
		t.Error("a forged sign-in form started a session")
	}
}

func TestNextStaysInUI(t *testing.T) {
	e := newEnv(t)
	for next, want := range map[string]string{
		"/ui/r/app": "/ui/r/app", "https://evil.example/": "/ui/", "//evil.example/ui/": "/ui/", "/v2/": "/ui/",
	} {
		b := e.browser()
		form := b.get("/ui/login")
		res := b.post("/ui/login", url.Values{"token": {form.hidden(t, "token")}, "user": {"admin"}, "password": {servertest.Password("admin")}, "next": {next}})
		if got := res.header.Get("Location"); got != want {
			t.Errorf("next %q: redirected to %q, want %q", next, got, want)
		}
	}
}

// TestPullOnlyViewer: an account that may only pull sees no delete, and
// a delete it posts anyway (with a valid CSRF token) is refused and
// changes nothing.
func TestPullOnlyViewer(t *testing.T) {
	e := newEnv(t)
	e.Account("puller", identity.System)
	e.allow("puller-pull", policy.Subject{AccountType: identity.System}, []string{"app/**"}, policy.Pull)
	e.image("app/web", "v1", v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}, nil)
	e.image("secret/db", "v1", v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}, nil)

	b := e.signedIn(t, "puller")
	list := b.get("/ui/").mustStatus(t, http.StatusOK)
	if !strings.Contains(list.body, "app/web") || strings.Contains(list.body, "secret/db") {
		t.Errorf("the list shows what the viewer may not pull, or hides what it may:\n%s", list.body)
	}
	repo := b.get("/ui/r/app/web").mustStatus(t, http.StatusOK)
	if !strings.Contains(repo.body, "linux/amd64") || strings.Contains(repo.body, "/-/delete") {
		t.Errorf("repository page: platforms missing or a delete offered:\n%s", repo.body)
	}
	b.get("/ui/r/app/web/-/delete?tag=v1").mustStatus(t, http.StatusForbidden)
	b.post("/ui/r/app/web/-/delete", url.Values{"csrf": {b.csrf()}, "tag": {"v1"}}).mustStatus(t, http.StatusForbidden)
	b.get("/ui/r/secret/db").mustStatus(t, http.StatusForbidden)
	b.get("/ui/gc").mustStatus(t, http.StatusForbidden)
	b.post("/ui/gc", url.Values{"csrf": {b.csrf()}}).mustStatus(t, http.StatusForbidden)
	if p := b.get("/ui/r/app/web"); !strings.Contains(p.body, ">v1<") {
		t.Error("the refused delete removed the tag")
	}
}

// TestAnonymousSeesPublicOnly: without a session the viewer sees what the
// policy lets anyone pull, and is sent to sign in for the rest.
func TestAnonymousSeesPublicOnly(t *testing.T) {
	e := newEnv(t)
	e.allow("public", policy.Subject{AccountType: policy.Anonymous}, []string{"public/*"}, policy.Pull)
	e.image("public/app", "v1", v1.Image{}, nil)
	e.image("private/app", "v1", v1.Image{}, nil)
	b := e.browser()
	list := b.get("/ui/").mustStatus(t, http.StatusOK)
	if !strings.Contains(list.body, "public/app") || strings.Contains(list.body, "private/app") {
		t.Errorf("anonymous list:\n%s", list.body)
	}
	b.get("/ui/r/public/app").mustStatus(t, http.StatusOK)
	res := b.get("/ui/r/private/app").mustStatus(t, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/ui/login?next=%2Fui%2Fr%2Fprivate%2Fapp" {
		t.Errorf("sent to %q", loc)
	}
	b.post("/ui/r/public/app/-/delete", url.Values{"tag": {"v1"}}).mustStatus(t, http.StatusUnauthorized)
}

// TestCSRF: a state-changing form without the session's token is refused
// and changes nothing; with it, the change is made.
func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.image("app/web", "v1", v1.Image{}, nil)
	e.image("app/web", "v2", v1.Image{Author: "two"}, nil)
	b := e.signedIn(t, "admin")
	for _, form := range []url.Values{{"tag": {"v1"}}, {"tag": {"v1"}, "csrf": {"forged"}}, {"tag": {"v1"}, "csrf": {""}}} {
		b.post("/ui/r/app/web/-/delete", form).mustStatus(t, http.StatusForbidden)
	}
	b.post("/ui/logout", url.Values{"csrf": {"forged"}}).mustStatus(t, http.StatusForbidden)
	if p := b.get("/ui/r/app/web"); !strings.Contains(p.body, ">v1<") {
		t.Fatal("a forged form deleted the tag")
	}
	confirm := b.get("/ui/r/app/web/-/delete?tag=v1").mustStatus(t, http.StatusOK)
	res := b.post("/ui/r/app/web/-/delete", url.Values{"tag": {"v1"}, "csrf": {confirm.hidden(t, "csrf")}})
	res.mustStatus(t, http.StatusSeeOther)
	p := b.get("/ui/r/app/web")
	if strings.Contains(p.body, ">v1<") || !strings.Contains(p.body, ">v2<") {
		t.Errorf("after the delete:\n%s", p.body)
	}
}

// sessionCookie is the Set-Cookie of the session in an answer, "" when
// it sets none.
func sessionCookie(p page) string {
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "mcr_session=") {
			return c
		}
	}
	return ""
}

// TestSecureCookieUnderTLS: behind TLS the session cookie is Secure and
// lives as long as the configured session.
func TestSecureCookieUnderTLS(t *testing.T) {
	e := newEnv(t, func(d *ui.Deps) { d.Secure, d.SessionTTL = true, time.Hour })
	b := e.browser()
	form := b.get("/ui/login")
	if lc := strings.ToLower(strings.Join(form.header.Values("Set-Cookie"), "\n")); !strings.Contains(lc, "; secure") {
		t.Errorf("sign-in form cookie under TLS: %q", lc)
	}
	// The jar keeps a Secure cookie off plain HTTP: send it by hand, as
	// a browser would over HTTPS.
	tok := form.hidden(t, "token")
	req, _ := http.NewRequest(http.MethodPost, base+"/ui/login",
		strings.NewReader(url.Values{"token": {tok}, "user": {"admin"}, "password": {servertest.Password("admin")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "mcr_login", Value: tok})
	res := b.do(req).mustStatus(t, http.StatusSeeOther)
	c := strings.ToLower(sessionCookie(res))
	if !strings.Contains(c, "; secure") || !strings.Contains(c, "max-age=3600") {
		t.Errorf("session cookie under TLS: %q", c)
	}
}
