package adminapi

import (
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func event(e audit.Entry) apiv1.Event {
	ev := apiv1.Event{
		Seq: e.Seq, Time: e.Time.UTC(), Type: string(e.Kind), AccountID: e.AccountID, AccountName: e.AccountName,
		AccountType: e.AccountType, Remote: e.Remote, Action: e.Action, Repository: e.Repository, Digest: e.Digest,
		Outcome: e.Outcome, Detail: e.Detail, Cursor: e.Cursor, Hash: e.Hash, Prev: e.Prev,
	}
	if e.Count > 1 {
		ev.Count = e.Count
	}
	return ev
}

func eventPage(p audit.Page) apiv1.EventPage {
	out := apiv1.EventPage{Events: make([]apiv1.Event, len(p.Events)), Next: p.Next}
	for i, e := range p.Events {
		out.Events[i] = event(e)
	}
	return out
}

func auditError(err error) error {
	if errors.Is(err, audit.ErrBadCursor) {
		return errBadRequest("malformed cursor")
	}
	return err
}

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
				return f, errBadRequest("%s: want an RFC 3339 time", name)
			}
			*t = p
		}
	}
	return f, nil
}

// queryAudit pages through the log; with wait it is the long poll that
// follows the log (docs/api.md).
func (a *API) queryAudit(ctx *fasthttp.RequestCtx) error {
	if a.d.Journal == nil {
		return errNotManaged("audit events")
	}
	f, err := auditFilter(ctx)
	if err != nil {
		return err
	}
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	var p audit.Page
	if v := ctx.QueryArgs().Peek("wait"); len(v) > 0 {
		wait, err := time.ParseDuration(string(v))
		if err != nil || wait < 0 || wait > audit.MaxWait {
			return errBadRequest("wait: want a duration up to %s, like 30s", audit.MaxWait)
		}
		// A long poll: it ends, with what it found, when shutdown begins.
		wctx, stop := reqctx.Waiting(ctx)
		p, err = a.d.Journal.Follow(wctx, f, cursor, n, wait)
		stop()
		if err != nil {
			return auditError(err)
		}
	} else if p, err = a.d.Journal.Query(reqctx.Context(ctx), f, cursor, n); err != nil {
		return auditError(err)
	}
	return writeJSON(ctx, fasthttp.StatusOK, eventPage(p))
}

// verifyAudit walks the hash chain. A broken chain is a finding, not a
// failure of the request: 200 with ok false.
func (a *API) verifyAudit(ctx *fasthttp.RequestCtx) error {
	if a.d.Journal == nil {
		return errNotManaged("audit events")
	}
	rep, err := a.d.Journal.Verify(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	out := apiv1.Verification{OK: rep.OK(), Events: rep.Checked, First: rep.First, Last: rep.Last, Head: rep.Head}
	if rep.Broken != nil {
		out.Broken = &apiv1.Break{Seq: rep.Broken.Seq, Reason: rep.Broken.Reason}
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}
