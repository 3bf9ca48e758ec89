package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
	"git.wntrmute.dev/kyle/mcr/http/ui"
)

// env is a real registry with builtin auth and the UI, served through the
// real server (middleware, router) over an in-memory listener.
type env struct {
	*servertest.Registry
}

// newEnv serves a fresh registry with an admin account "admin"; tune,
// when given, adjusts the UI's dependencies before it is built.
func newEnv(t testing.TB, tune ...func(*ui.Deps)) *env {
	t.Helper()
	tr := servertest.Serve(t, servertest.Config{
		Auth: &servertest.Setup{Admin: true, Limits: auth.Limits{PairBurst: 3}},
		Server: func(tr *servertest.Registry, o *server.Options) {
			d := ui.Deps{Registry: tr.Reg, Auth: tr.Auth, Sessions: tr.IDs, Accounts: tr.IDs, Policy: tr.Policy, Jobs: tr.Runner,
				Version: "test", Started: time.Now(), Log: zerolog.New(zerolog.NewTestWriter(t))}
			for _, f := range tune {
				f(&d)
			}
			o.UI = ui.New(d)
		},
	})
	tr.Account("admin", identity.Human, identity.RoleAdmin)
	return &env{tr}
}

// allow adds a rule letting subject do acts on repos.
func (e *env) allow(id string, subject policy.Subject, repos []string, acts ...policy.Action) {
	e.T.Helper()
	r := policy.Rule{ID: id, Priority: 10, Effect: policy.Allow, Subject: subject, Actions: acts, Repositories: repos, Enabled: true}
	if err := e.Policy.Create(context.Background(), r); err != nil {
		e.T.Fatal(err)
	}
}

// blob stores b in repo.
func (e *env) blob(repo, mediaType string, b []byte) v1.Descriptor {
	return servertest.Blob(e.T, e.Reg, repo, mediaType, b)
}

// push stores manifest m in repo under tag ("" for none) and returns its
// digest.
func (e *env) push(repo, tag, mediaType string, m any) string {
	return servertest.Manifest(e.T, e.Reg, repo, tag, mediaType, m)
}

// image pushes an image with config cfg (JSON) and one layer.
func (e *env) image(repo, tag string, cfg any, annotations map[string]string) string {
	return servertest.Image(e.T, e.Reg, repo, tag, cfg, annotations)
}

var specsVersioned = specs.Versioned{SchemaVersion: 2}

// browser is one visitor: a cookie jar over the in-memory listener.
type browser struct {
	t *testing.T
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.T.(*testing.T), c: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return e.Dial() }},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signedIn is a browser signed in as the account name, whose password is
// servertest.Password(name).
func (e *env) signedIn(t *testing.T, name string) *browser {
	t.Helper()
	b := e.browser()
	b.login(name, servertest.Password(name)).mustStatus(t, http.StatusSeeOther)
	return b
}

// page is an answer read whole.
type page struct {
	status int
	header http.Header
	body   string
}

const base = "http://registry.test"

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	return b.do(req)
}

// post sends a form.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`name="(token|csrf)" value="([^"]*)"`)

// hidden is the value of the token or csrf field of a page's first form.
func (p page) hidden(t *testing.T, name string) string {
	t.Helper()
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	t.Fatalf("no %s field in the page:\n%s", name, p.body)
	return ""
}

// login signs in through the form and returns the session's CSRF token.
func (b *browser) login(user, pass string) page {
	b.t.Helper()
	form := b.get("/ui/login")
	return b.post("/ui/login", url.Values{"token": {form.hidden(b.t, "token")}, "user": {user}, "password": {pass}, "next": {"/ui/"}})
}

// csrf is the token of the signed-in session, read from a page.
func (b *browser) csrf() string {
	b.t.Helper()
	return b.get("/ui/").hidden(b.t, "csrf")
}

func (p page) mustStatus(t *testing.T, want int) page {
	t.Helper()
	if p.status != want {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, want, p.body)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// valueOf is the value attribute of the element with id.
func (p page) valueOf(t *testing.T, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `" value="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no value of #%s in the page:\n%s", id, p.body)
	}
	return m[1]
}
