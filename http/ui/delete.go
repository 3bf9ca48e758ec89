package ui

import (
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// deleteData is the delete confirmation.
type deleteData struct {
	Repo, Tag, Digest string
}

// deleteRef reads which tag or manifest a delete is about: tag, or
// digest (the manifest and every tag pointing at it).
func deleteRef(tag, dgst string) (names.Reference, error) {
	switch {
	case tag != "" && dgst == "":
		return names.Reference{Tag: tag}, names.Tag(tag)
	case dgst != "" && tag == "":
		d, err := names.Digest(dgst)
		return names.Reference{Digest: d}, err
	}
	return names.Reference{}, errcode.New(errcode.Invalid, "name a tag or a digest to delete")
}

// confirmDelete asks before deleting: the confirmation is a page, so it
// needs no script.
func (u *UI) confirmDelete(ctx *fasthttp.RequestCtx, v *viewer, repo string) error {
	if err := v.require(policy.Delete, repo); err != nil {
		return err
	}
	args := ctx.QueryArgs()
	d := deleteData{Repo: repo, Tag: string(args.Peek("tag")), Digest: string(args.Peek("digest"))}
	if _, err := deleteRef(d.Tag, d.Digest); err != nil {
		return err
	}
	return u.render(ctx, fasthttp.StatusOK, "delete", "Delete", v, d)
}

// repositoryAction serves the POSTs under a repository: the delete.
func (u *UI) repositoryAction(ctx *fasthttp.RequestCtx, v *viewer) error {
	repo, rest, err := repoPath(ctx)
	if err != nil {
		return err
	}
	if rest != "delete" {
		return errcode.New(errcode.NotFound, "no such action")
	}
	if err := v.require(policy.Delete, repo); err != nil {
		return err
	}
	ref, err := deleteRef(v.field("tag"), v.field("digest"))
	if err != nil {
		return err
	}
	if err := u.d.Registry.DeleteManifest(reqctx.Context(ctx), repo, ref); err != nil {
		return err
	}
	u.record(ctx, v, audit.Delete, string(policy.Delete), repo, ref.Digest.String(), "reference "+ref.String()+" (web UI)")
	return redirect(ctx, Prefix+"/r/"+repo+"?deleted="+url.QueryEscape(ref.String()))
}

// record writes an audit event for a change made through the UI.
func (u *UI) record(ctx *fasthttp.RequestCtx, v *viewer, kind audit.Kind, action, repo, dgst, detail string) {
	u.d.Audit.Record(reqctx.Context(ctx), audit.Event{
		Time: time.Now(), Kind: kind, AccountID: v.p.ID, AccountName: v.p.Name, AccountType: v.p.Type,
		Remote: ctx.RemoteIP().String(), Action: action, Repository: repo, Digest: dgst, Outcome: "success", Detail: detail,
	})
}
