package adminapi

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// auditFilter reads the query's filters.
func auditFilter(ctx *fasthttp.RequestCtx) (audit.Filter, error) {
	args := ctx.QueryArgs()
	var f audit.Filter
	for _, v := range args.PeekMulti("type") {
		for _, k := range strings.Split(string(v), ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.Kinds = append(f.Kinds, audit.Kind(k))
			}
		}
	}
	f.Actor = string(args.Peek("actor"))
	f.Repository = string(args.Peek("repository"))
	f.Digest = string(args.Peek("digest"))
	f.Outcome = string(args.Peek("outcome"))
	for name, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := args.Peek(name); len(v) > 0 {
			p, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return f, errcode.New(errcode.BadRequest, "%s: want an RFC 3339 time", name)
			}
			*t = p
		}
	}
	return f, nil
}

// queryAudit pages through the log; with wait it is the long poll that
// follows the log (docs/api.md).
func (a *API) queryAudit(ctx *fasthttp.RequestCtx) error {
	f, err := auditFilter(ctx)
	if err != nil {
		return err
	}
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	if v := ctx.QueryArgs().Peek("wait"); len(v) > 0 {
		wait, err := time.ParseDuration(string(v))
		if err != nil {
			return errcode.New(errcode.BadRequest, "wait: want a duration up to %s, like 30s", audit.MaxWait)
		}
		// A long poll: it ends, with what it found, when shutdown begins.
		wctx, stop := reqctx.Waiting(ctx)
		defer stop()
		return answer(ctx)(a.svc.FollowAudit(wctx, f, cursor, n, wait))
	}
	return answer(ctx)(a.svc.QueryAudit(reqctx.Context(ctx), f, cursor, n))
}

// verifyAudit walks the hash chain. A broken chain is a finding, not a
// failure of the request: 200 with ok false.
func (a *API) verifyAudit(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.VerifyAudit(reqctx.Context(ctx)))
}
