package ui

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"time"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Prefix is where the UI's paths start.
const Prefix = "/ui"

// Authenticator checks sign-in forms and asks the policy; http/auth
// implements it.
type Authenticator interface {
	// Login checks a name and password under the shared brute-force
	// limiter, and audits the outcome.
	Login(ctx *fasthttp.RequestCtx, user, pass string) (identity.Principal, error)
	// Evaluate asks the policy whether p may do act on repo.
	Evaluate(p identity.Principal, act policy.Action, repo string) policy.Decision
}

// Deps are the components the UI drives.
type Deps struct {
	Registry *engine.Registry
	// Auth is nil in auth mode "none": no sign-in, everyone may do
	// everything (local development only).
	Auth Authenticator
	// Sessions stores the sign-ins; required with Auth.
	Sessions *identity.Service
	// Accounts are mcr's own accounts (auth mode builtin); nil with MCIAS,
	// where access keys are not managed here and a session is bounded by
	// its lifetime alone.
	Accounts *identity.Service
	Jobs     *jobs.Runner
	Policy   *policy.Engine
	Journal  *audit.Journal
	// Audit receives the changes made through the UI (nil: not recorded).
	Audit audit.Recorder
	// Snapshot writes a snapshot into an absolute directory; SnapshotDir
	// is where the UI's snapshots go.
	Snapshot    func(ctx context.Context, dir string) (*snapshot.Manifest, error)
	SnapshotDir string
	// MetadataBytes reports the metadata store's size on disk.
	MetadataBytes func() int64
	Version       string
	Started       time.Time
	// SessionTTL bounds a sign-in; default 12 hours.
	SessionTTL time.Duration
	// Secure marks the cookies Secure: the server listens with TLS.
	Secure bool
	Log    zerolog.Logger
}

// UI is the web UI.
type UI struct {
	d     Deps
	pages map[string]*template.Template
}

//go:embed templates static
var files embed.FS

// New returns the UI over d.
func New(d Deps) *UI {
	if d.Audit == nil {
		d.Audit = audit.Nop{}
	}
	if d.SessionTTL <= 0 {
		d.SessionTTL = 12 * time.Hour
	}
	return &UI{d: d, pages: parsePages()}
}

// parsePages builds one template set per page: the layout plus the page's
// "content".
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := make(map[string]*template.Template)
	for _, n := range names {
		name := n[len("templates/") : len(n)-len(".html")]
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", n))
	}
	return pages
}

// handler is a page's body: it writes its answer, or returns the error to
// answer with.
type handler func(ctx *fasthttp.RequestCtx, v *viewer) error

// Register adds the UI's routes to r.
func (u *UI) Register(r *router.Router) {
	p := Prefix
	r.GET(p+"/", u.page(u.repositories)) // the router answers "/ui" with this too
	r.GET(p+"/static/{file}", u.static)
	r.GET(p+"/login", u.page(u.loginForm))
	r.POST(p+"/login", u.page(u.login))
	r.POST(p+"/logout", u.form(u.logout))
	r.GET(p+"/r/{path:*}", u.page(u.repository))
	r.POST(p+"/r/{path:*}", u.form(u.repositoryAction))
	u.registerAdmin(r)
}

// page serves a GET (or the sign-in POST): resolves the viewer, sets the
// security headers, runs h and renders its error, if any.
func (u *UI) page(h handler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		secure(ctx)
		v, err := u.viewer(ctx)
		if err == nil {
			err = h(ctx, v)
		}
		if err != nil {
			u.fail(ctx, v, err)
		}
	}
}

// form serves a state-changing POST: the form is read and its CSRF token
// checked against the session before h runs.
func (u *UI) form(h handler) fasthttp.RequestHandler {
	return u.page(func(ctx *fasthttp.RequestCtx, v *viewer) error {
		if err := v.readForm(ctx); err != nil {
			return err
		}
		if err := v.checkCSRF(); err != nil {
			return err
		}
		return h(ctx, v)
	})
}

// csp is the Content-Security-Policy of every answer: nothing runs or
// loads but the embedded script and stylesheet, forms post only here, and
// no page can be framed.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func secure(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// pageData is what every template sees: the viewer (.V) and the page's
// own data (.D).
type pageData struct {
	Title string
	V     *viewer
	D     any
}

// render writes page name with data d.
func (u *UI) render(ctx *fasthttp.RequestCtx, status int, name, title string, v *viewer, d any) error {
	t, ok := u.pages[name]
	if !ok {
		panic("ui: no page " + name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, pageData{Title: title, V: v, D: d}); err != nil {
		return err
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(b.Bytes())
	return nil
}

// redirect answers 303 See Other to a path of the UI: after a POST, the
// browser GETs the result.
func redirect(ctx *fasthttp.RequestCtx, path string) error {
	ctx.Response.Header.Set("Location", path)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
	return nil
}
