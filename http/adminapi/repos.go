package adminapi

import (
	"strings"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) status(ctx *fasthttp.RequestCtx) error {
	st, err := a.svc.Status(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, st)
}

// listRepositories pages through the catalog, leaving out the
// repositories the caller may not pull (as GET /v2/_catalog does).
func (a *API) listRepositories(ctx *fasthttp.RequestCtx) error {
	if err := a.authorize(ctx, policy.Catalog, ""); err != nil {
		return err
	}
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	out, err := a.svc.Repositories(reqctx.Context(ctx), cursor, n, func(repo string) bool { return a.allowed(ctx, policy.Pull, repo) })
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// repoRoute is a request under /repositories/{name}: the repository, and
// what of it (rest: "", "tags", "tags/<tag>", "manifests",
// "manifests/<digest>").
type repoRoute struct {
	repo, rest string
}

func parseRepoPath(path string) (repoRoute, error) {
	name, rest, _ := strings.Cut(path, apiv1.Sep)
	if err := names.Repo(name); err != nil {
		return repoRoute{}, err
	}
	return repoRoute{repo: name, rest: rest}, nil
}

// repository dispatches the routes of one repository. The action depends
// on what is asked: reading is pull, deleting a tag or manifest is
// delete, deleting the whole repository is admin.
func (a *API) repository(ctx *fasthttp.RequestCtx) error {
	rt, err := parseRepoPath(ctx.UserValue("path").(string))
	if err != nil {
		return err
	}
	del := ctx.IsDelete()
	what, ref, _ := strings.Cut(rt.rest, "/")
	var act policy.Action
	var h handler
	switch {
	case what == "" && del:
		act, h = policy.Admin, func(ctx *fasthttp.RequestCtx) error {
			j, err := a.svc.DeleteRepository(a.changeContext(ctx), rt.repo)
			if err != nil {
				return err
			}
			return writeJSON(ctx, fasthttp.StatusAccepted, j)
		}
	case what == "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error {
			return answer(ctx)(a.svc.Repository(reqctx.Context(ctx), rt.repo))
		}
	case what == "tags" && ref == "" && !del:
		act, h = policy.Pull, listIn(rt.repo, a.svc.Tags)
	case what == "tags" && ref != "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error { return answer(ctx)(a.svc.Tag(reqctx.Context(ctx), rt.repo, ref)) }
		if del {
			act, h = policy.Delete, func(ctx *fasthttp.RequestCtx) error { return a.deleteRef(ctx, rt.repo, ref, false) }
		}
	case what == "manifests" && ref == "" && !del:
		act, h = policy.Pull, listIn(rt.repo, a.svc.Manifests)
	case what == "manifests" && ref != "":
		act, h = policy.Pull, func(ctx *fasthttp.RequestCtx) error {
			return answer(ctx)(a.svc.Manifest(reqctx.Context(ctx), rt.repo, ref))
		}
		if del {
			act, h = policy.Delete, func(ctx *fasthttp.RequestCtx) error { return a.deleteRef(ctx, rt.repo, ref, true) }
		}
	case what == "tags" || what == "manifests":
		return errcode.New(errcode.Unsupported, "method %s not allowed here", ctx.Method())
	default:
		return errcode.New(errcode.NotFound, "no such endpoint %s", ctx.Path())
	}
	if err := a.authorize(ctx, act, rt.repo); err != nil {
		return err
	}
	return h(ctx)
}

// deleteRef deletes a tag, or (byDigest) a manifest with its tags.
func (a *API) deleteRef(ctx *fasthttp.RequestCtx, repo, ref string, byDigest bool) error {
	return noContent(ctx, a.svc.DeleteReference(a.changeContext(ctx), repo, ref, byDigest))
}
