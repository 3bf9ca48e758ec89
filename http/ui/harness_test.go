package ui_test

import (
	"bytes"
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

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp/fasthttputil"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobstoretest"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/ui"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// env is a real registry with builtin auth and the UI, served through the
// real server (middleware, router) over an in-memory listener.
type env struct {
	t      testing.TB
	reg    *engine.Registry
	ids    *identity.Service
	policy *policy.Engine
	srv    *server.Server
	ln     *fasthttputil.InmemoryListener
}

const password = "correct-horse"

// newEnv serves a fresh registry; tune, when given, adjusts the UI's
// dependencies before it is built.
func newEnv(t testing.TB, tune ...func(*ui.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	barrier := blobstoretest.Barrier(t, dir)
	store, err := kv.Open(kv.Options{Dir: dir + "/meta", Barrier: barrier.Waiter()})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.Open(dir, barrier)
	if err != nil {
		t.Fatal(err)
	}
	reg := engine.New(store, blobs, engine.Options{})
	ids, err := identity.New(ctx, store, identity.Options{Hash: identity.HashParams{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	pe, err := policy.NewEngine(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(auth.Options{Mode: auth.ModeBuiltin, Identity: ids, Policy: pe, Limits: auth.Limits{PairBurst: 3}})
	runner := jobs.NewRunner(jobs.Options{})
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d := ui.Deps{Registry: reg, Auth: a, Sessions: ids, Accounts: ids, Policy: pe, Jobs: runner,
		Version: "test", Started: time.Now(), Log: zerolog.New(zerolog.NewTestWriter(t))}
	for _, f := range tune {
		f(&d)
	}
	u := ui.New(d)
	srv := server.New(reg, zerolog.Nop(), server.Options{ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		IdleTimeout: time.Minute, Concurrency: 64, Auth: a, UI: u})
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		_ = runner.Stop(sctx)
		_ = reg.Close(sctx)
		_ = store.Close()
	})
	e := &env{t: t, reg: reg, ids: ids, policy: pe, srv: srv, ln: ln}
	e.account("admin", identity.Human, identity.RoleAdmin)
	return e
}

// account creates an account with the test password.
func (e *env) account(name, typ string, roles ...string) identity.Account {
	e.t.Helper()
	a, err := e.ids.CreateAccount(context.Background(), identity.NewAccount{Name: name, Type: typ, Roles: roles, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// allow adds a rule letting subject do acts on repos.
func (e *env) allow(id string, subject policy.Subject, repos []string, acts ...policy.Action) {
	e.t.Helper()
	r := policy.Rule{ID: id, Priority: 10, Effect: policy.Allow, Subject: subject, Actions: acts, Repositories: repos, Enabled: true}
	if err := e.policy.Create(context.Background(), r); err != nil {
		e.t.Fatal(err)
	}
}

// blob stores b in repo.
func (e *env) blob(repo, mediaType string, b []byte) v1.Descriptor {
	e.t.Helper()
	d := digest.FromBytes(b)
	if err := e.reg.PutBlob(context.Background(), repo, d, bytes.NewReader(b), int64(len(b))); err != nil {
		e.t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

// push stores manifest m in repo under tag ("" for none) and returns its
// digest.
func (e *env) push(repo, tag, mediaType string, m any) string {
	e.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: digest.FromBytes(b)}
	}
	if _, err := e.reg.PutManifest(context.Background(), repo, ref, mediaType, b, nil); err != nil {
		e.t.Fatal(err)
	}
	return digest.FromBytes(b).String()
}

// image pushes an image with config cfg (JSON) and one layer.
func (e *env) image(repo, tag string, cfg any, annotations map[string]string) string {
	e.t.Helper()
	cb, err := json.Marshal(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.blob(repo, v1.MediaTypeImageConfig, cb)
	l := e.blob(repo, v1.MediaTypeImageLayerGzip, []byte("layer of "+repo+":"+tag))
	return e.push(repo, tag, v1.MediaTypeImageManifest, v1.Manifest{
		Versioned: specsVersioned, MediaType: v1.MediaTypeImageManifest, Config: c, Layers: []v1.Descriptor{l}, Annotations: annotations,
	})
}

var specsVersioned = specs.Versioned{SchemaVersion: 2}

// browser is one visitor: a cookie jar over the in-memory listener.
type browser struct {
	t *testing.T
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t.(*testing.T), c: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return e.ln.Dial() }},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
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
