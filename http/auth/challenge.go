package auth

import (
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// headerError is an engine error that also sets response headers: the
// WWW-Authenticate challenge of a 401, the Retry-After of a 429.
// distapi.WriteError finds it with errors.As and calls SetHeaders.
type headerError struct {
	err     *errcode.Error
	headers [][2]string
}

func (e *headerError) Error() string { return e.err.Error() }
func (e *headerError) Unwrap() error { return e.err }

// SetHeaders adds the headers to a response.
func (e *headerError) SetHeaders(h *fasthttp.ResponseHeader) {
	for _, kv := range e.headers {
		h.Set(kv[0], kv[1])
	}
}

// asEngineError is err as an engine error carrying what a client may read
// of it (errcode.Public): the text of what wraps a kinded error, or of an
// internal one, stays in the log.
func asEngineError(err error) *errcode.Error {
	if e, ok := err.(*errcode.Error); ok {
		return e
	}
	k, msg, detail := errcode.Public(err)
	return errcode.Wrap(k, err, "%s", msg).WithDetail(detail)
}

// challenge returns a 401 carrying a Bearer challenge (RFC 6750 §3; the
// Docker token spec): realm and service always, scope when the action is
// known, error="insufficient_scope" or "invalid_token" when that is the
// reason.
func (a *Auth) challenge(ctx *fasthttp.RequestCtx, scope, errCode string, cause error) error {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(a.realm(ctx))
	b.WriteString(`",service="`)
	b.WriteString(a.service)
	b.WriteByte('"')
	if scope != "" {
		b.WriteString(`,scope="`)
		b.WriteString(scope)
		b.WriteByte('"')
	}
	if errCode != "" {
		b.WriteString(`,error="`)
		b.WriteString(errCode)
		b.WriteByte('"')
	}
	if cause == nil {
		cause = errcode.New(errcode.Unauthorized, "authentication required")
	}
	e := asEngineError(cause)
	if e.Kind != errcode.Unauthorized {
		e = errcode.Wrap(errcode.Unauthorized, cause, "%s", e.Message)
	}
	return &headerError{err: e, headers: [][2]string{{fasthttp.HeaderWWWAuthenticate, b.String()}}}
}

// realm is the token endpoint's URL: configured, or the scheme and host
// the client used, which a trusted proxy forwards (X-Forwarded-Proto,
// X-Forwarded-Host) and anyone else's headers cannot change.
func (a *Auth) realm(ctx *fasthttp.RequestCtx) string {
	if a.o.Realm != "" {
		return a.o.Realm
	}
	return a.o.Proxies.Scheme(ctx) + "://" + a.o.Proxies.Host(ctx) + TokenPath
}

// tooMany is the 429 of the limiter, with Retry-After in seconds.
func tooMany(wait time.Duration) error {
	return retryLater(wait, "too many failed logins")
}

// retryLater is a 429 TOOMANYREQUESTS saying why, with Retry-After.
func retryLater(wait time.Duration, why string) error {
	secs := int(wait.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return &headerError{
		err:     errcode.New(errcode.TooManyRequests, "%s; retry in %d s", why, secs),
		headers: [][2]string{{fasthttp.HeaderRetryAfter, strconv.Itoa(secs)}},
	}
}

// scopeFor is the Docker scope a client must ask for to do act on repo.
// Push asks for pull too, as clients do, since a push reads what it
// uploaded.
func scopeFor(act policy.Action, repo string) string {
	switch act {
	case policy.Pull:
		return "repository:" + repo + ":pull"
	case policy.Push:
		return "repository:" + repo + ":pull,push"
	case policy.Delete:
		return "repository:" + repo + ":delete"
	case policy.Catalog:
		return "registry:catalog:*"
	}
	return ""
}
