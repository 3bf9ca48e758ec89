package ui

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// The cookies: the session, and the sign-in form's double-submit token
// (there is no session yet to hold one).
const (
	sessionCookie = "mcr_session"
	loginCookie   = "mcr_login"
)

// viewer is who is looking: a session's principal, or anonymous.
type viewer struct {
	u    *UI
	p    identity.Principal
	sess *identity.Session // nil when not signed in
	form *fasthttp.Args    // the posted form, once read
	// may caches policy answers for one request: a listing asks the same
	// question per row.
	may map[string]bool
}

// viewer resolves the session cookie. An unknown, expired or ended
// session makes an anonymous viewer (and the cookie is cleared); with
// builtin accounts the account is re-read, so a disabled or deleted
// account's session ends here.
func (u *UI) viewer(ctx *fasthttp.RequestCtx) (*viewer, error) {
	v := &viewer{u: u, may: map[string]bool{}}
	if u.d.Auth == nil {
		return v, nil
	}
	id := string(ctx.Request.Header.Cookie(sessionCookie))
	if id == "" {
		return v, nil
	}
	sess, err := u.d.Sessions.Session(reqctx.Context(ctx), id)
	if errors.Is(err, identity.ErrNoSession) {
		u.clearCookie(ctx, sessionCookie)
		return v, nil
	}
	if err != nil {
		return v, err
	}
	if u.d.Accounts != nil {
		p, err := u.d.Accounts.Principal(reqctx.Context(ctx), sess.Principal.ID)
		if errcode.KindOf(err) == errcode.Unauthorized {
			_ = u.d.Sessions.EndSession(reqctx.Context(ctx), id)
			u.clearCookie(ctx, sessionCookie)
			return v, nil
		}
		if err != nil {
			return v, err
		}
		sess.Principal = p // roles changed since sign-in count at once
	}
	v.p, v.sess = sess.Principal, &sess
	return v, nil
}

// SignedIn reports whether the viewer has a session.
func (v *viewer) SignedIn() bool { return v.sess != nil }

// Name is the signed-in account's name.
func (v *viewer) Name() string { return v.p.Name }

// AuthOff reports auth mode "none": there is nobody to sign in as.
func (v *viewer) AuthOff() bool { return v.u.d.Auth == nil }

// CSRF is the token the viewer's forms carry.
func (v *viewer) CSRF() string {
	if v.sess == nil {
		return ""
	}
	return v.sess.CSRF
}

// May reports whether the viewer may do act on repo ("" for a global
// action): what decides which actions a page shows.
func (v *viewer) May(act, repo string) bool {
	if v.u.d.Auth == nil {
		return true
	}
	k := act + "\x00" + repo
	ok, seen := v.may[k]
	if !seen {
		ok = v.u.d.Auth.Evaluate(v.p, policy.Action(act), repo).Allowed
		v.may[k] = ok
	}
	return ok
}

// require refuses an action the viewer may not do: anonymous viewers are
// asked to sign in (401), others are denied (403) naming the rule.
func (v *viewer) require(act policy.Action, repo string) error {
	if v.u.d.Auth == nil {
		return nil
	}
	d := v.u.d.Auth.Evaluate(v.p, act, repo)
	if d.Allowed {
		return nil
	}
	if v.sess == nil {
		return errcode.New(errcode.Unauthorized, "sign in to %s", act)
	}
	return errcode.New(errcode.Denied, "%s may not %s %s (%s)", v.p.Name, act, target(repo), d.Reason())
}

func target(repo string) string {
	if repo == "" {
		return "the registry"
	}
	return repo
}

// maxForm bounds a posted form: the UI's forms are small.
const maxForm = 64 << 10

// readForm reads the url-encoded body of a POST.
func (v *viewer) readForm(ctx *fasthttp.RequestCtx) error {
	if v.form != nil {
		return nil
	}
	if !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		return errcode.New(errcode.Invalid, "a form must be posted as application/x-www-form-urlencoded")
	}
	r := ctx.RequestBodyStream()
	if r == nil {
		r = bytes.NewReader(ctx.Request.Body())
	}
	b, err := io.ReadAll(io.LimitReader(r, maxForm+1))
	if err != nil {
		return errcode.Wrap(errcode.BadRequest, err, "reading the form")
	}
	if len(b) > maxForm {
		return errcode.New(errcode.TooLarge, "form over %d bytes", maxForm)
	}
	v.form = &fasthttp.Args{}
	v.form.ParseBytes(b)
	return nil
}

// field is a posted form field.
func (v *viewer) field(name string) string {
	if v.form == nil {
		return ""
	}
	return string(v.form.Peek(name))
}

// errCSRF refuses a form without the session's token: forged by another
// site, or from a page older than the session.
var errCSRF = errcode.New(errcode.Denied, "the form's CSRF token is missing or stale: reload the page and try again")

// checkCSRF compares the form's token with the session's, in constant
// time. A viewer without a session has nothing to post (in auth mode
// "none" there is no session, and the token is not checked).
func (v *viewer) checkCSRF() error {
	if v.u.d.Auth == nil {
		return nil
	}
	if v.sess == nil {
		return errcode.New(errcode.Unauthorized, "sign in first")
	}
	if subtle.ConstantTimeCompare([]byte(v.field("csrf")), []byte(v.sess.CSRF)) != 1 {
		return errCSRF
	}
	return nil
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// setCookie sets an HttpOnly, SameSite=Strict cookie scoped to the UI,
// Secure under TLS; maxAge 0 makes it a browser-session cookie.
func (u *UI) setCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge time.Duration) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath(Prefix)
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(u.d.Secure)
	if maxAge != 0 {
		c.SetMaxAge(int(maxAge.Seconds()))
	}
	ctx.Response.Header.SetCookie(c)
}

func (u *UI) clearCookie(ctx *fasthttp.RequestCtx, name string) {
	u.setCookie(ctx, name, "", -time.Second)
}

// loginData is the sign-in page.
type loginData struct {
	Token, Next, User, Error string
}

// loginForm shows the sign-in form, with a fresh double-submit token.
func (u *UI) loginForm(ctx *fasthttp.RequestCtx, v *viewer) error {
	if u.d.Auth == nil || v.SignedIn() {
		return redirect(ctx, Prefix+"/")
	}
	return u.showLogin(ctx, v, fasthttp.StatusOK, loginData{Next: safeNext(string(ctx.QueryArgs().Peek("next")))})
}

func (u *UI) showLogin(ctx *fasthttp.RequestCtx, v *viewer, status int, d loginData) error {
	d.Token = randomToken()
	u.setCookie(ctx, loginCookie, d.Token, 0)
	return u.render(ctx, status, "login", "Sign in", v, d)
}

// login checks the form and starts a session. A failure counts against
// the same limiter as every other login (http/auth), so the form is no
// way around it.
func (u *UI) login(ctx *fasthttp.RequestCtx, v *viewer) error {
	if u.d.Auth == nil {
		return redirect(ctx, Prefix+"/")
	}
	if err := v.readForm(ctx); err != nil {
		return err
	}
	tok := v.field("token")
	cookie := ctx.Request.Header.Cookie(loginCookie)
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), cookie) != 1 {
		return errCSRF
	}
	d := loginData{Next: safeNext(v.field("next")), User: v.field("user")}
	p, err := u.d.Auth.Login(ctx, d.User, v.field("password"))
	// The challenge the login wrote is for registry clients, not for a
	// browser, which would offer its own password dialog.
	ctx.Response.Header.Del(fasthttp.HeaderWWWAuthenticate)
	switch errcode.KindOf(err) {
	case errcode.Unauthorized:
		d.Error = "Wrong user name or password."
		return u.showLogin(ctx, v, fasthttp.StatusUnauthorized, d)
	case errcode.TooManyRequests:
		d.Error = "Too many failed sign-ins: wait a few minutes."
		return u.showLogin(ctx, v, fasthttp.StatusTooManyRequests, d)
	}
	if err != nil {
		return err
	}
	sess, err := u.d.Sessions.CreateSession(reqctx.Context(ctx), p, u.d.SessionTTL)
	if err != nil {
		return err
	}
	u.clearCookie(ctx, loginCookie)
	u.setCookie(ctx, sessionCookie, sess.ID, u.d.SessionTTL)
	return redirect(ctx, d.Next)
}

// logout ends the session server-side: the cookie, were it kept, no
// longer signs anyone in.
func (u *UI) logout(ctx *fasthttp.RequestCtx, v *viewer) error {
	if v.sess != nil {
		if err := u.d.Sessions.EndSession(reqctx.Context(ctx), v.sess.ID); err != nil {
			return err
		}
	}
	u.clearCookie(ctx, sessionCookie)
	return redirect(ctx, Prefix+"/")
}

// safeNext keeps a post-sign-in destination inside the UI: an absolute
// URL or a "//host" path would make the form an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	if _, err := url.ParseRequestURI(next); err != nil {
		return Prefix + "/"
	}
	return next
}
