package ui

import (
	"strings"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// auditData is the audit page.
type auditData struct {
	Type, Actor, Repository, Outcome string
	Events                           []audit.Entry
	Next                             string
	Verify                           *audit.Report
}

// auditPage pages through the audit log, oldest first, filtered; with
// verify=1 it also runs the chain verification.
func (u *UI) auditPage(ctx *fasthttp.RequestCtx, v *viewer) error {
	if u.d.Journal == nil {
		return errcode.New(errcode.Conflict, "the audit log is off")
	}
	args := ctx.QueryArgs()
	d := auditData{Type: strings.TrimSpace(string(args.Peek("type"))), Actor: strings.TrimSpace(string(args.Peek("actor"))),
		Repository: strings.TrimSpace(string(args.Peek("repository"))), Outcome: strings.TrimSpace(string(args.Peek("outcome")))}
	f := audit.Filter{Actor: d.Actor, Repository: d.Repository, Outcome: d.Outcome}
	if d.Type != "" {
		f.Kinds = []audit.Kind{audit.Kind(d.Type)}
	}
	p, err := u.d.Journal.Query(reqctx.Context(ctx), f, string(args.Peek("after")), pageSize)
	if err != nil {
		return err
	}
	d.Events, d.Next = p.Events, p.Next
	if string(args.Peek("verify")) == "1" {
		rep, err := u.d.Journal.Verify(reqctx.Context(ctx))
		if err != nil {
			return err
		}
		d.Verify = &rep
	}
	return u.render(ctx, fasthttp.StatusOK, "audit", "Audit log", v, d)
}
