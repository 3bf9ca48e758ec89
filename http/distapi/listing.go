package distapi

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// MaxPage caps n on listings so one request cannot ask for an unbounded
// page; without n the whole list is returned, as clients expect.
const MaxPage = 10000

// pageArgs reads the n and last query parameters (spec: "Listing Tags").
// n absent is -1: everything.
func pageArgs(ctx *fasthttp.RequestCtx) (n int, last string, err error) {
	args := ctx.QueryArgs()
	last = string(args.Peek("last"))
	if !args.Has("n") {
		return -1, last, nil
	}
	n, err = strconv.Atoi(string(args.Peek("n")))
	if err != nil || n < 0 {
		return 0, "", errcode.New(errcode.PaginationInvalid, "n must be a non-negative integer")
	}
	return min(n, MaxPage), last, nil
}

// writePage writes a listing and, when more follows, the Link header that
// points at the next page (RFC 8288, as the spec describes).
func writePage(ctx *fasthttp.RequestCtx, path string, p engine.Page, n int, body any) error {
	if p.More && len(p.Items) > 0 {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {p.Items[len(p.Items)-1]}}
		ctx.Response.Header.Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

func items(p engine.Page) []string {
	if p.Items == nil {
		return []string{}
	}
	return p.Items
}

func (a *API) tags(ctx *fasthttp.RequestCtx, rt route) error {
	n, last, err := pageArgs(ctx)
	if err != nil {
		return err
	}
	if n < 0 && last == "" {
		// The whole list: served from the repository's cached, already
		// encoded list (engine.TagList), shared and never modified.
		tl, err := a.reg.TagList(reqctx.Context(ctx), rt.repo)
		if err != nil {
			return err
		}
		ctx.SetContentType("application/json")
		ctx.Response.SetBodyRaw(tl.JSON)
		return nil
	}
	p, err := a.reg.Tags(reqctx.Context(ctx), rt.repo, last, n)
	if err != nil {
		return err
	}
	return writePage(ctx, "/v2/"+rt.repo+"/tags/list", p, n, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.repo, items(p)})
}

func (a *API) catalog(ctx *fasthttp.RequestCtx) error {
	n, last, err := pageArgs(ctx)
	if err != nil {
		return err
	}
	p, err := a.visibleCatalog(ctx, last, n)
	if err != nil {
		return err
	}
	return writePage(ctx, "/v2/_catalog", p, n, struct {
		Repositories []string `json:"repositories"`
	}{items(p)})
}

// visibleCatalog is the catalog page filtered to the repositories the
// caller may pull: it reads further pages until n visible ones are found or
// the catalog ends, so a page is full whenever more follow.
func (a *API) visibleCatalog(ctx *fasthttp.RequestCtx, last string, n int) (engine.Page, error) {
	canPull := a.canPull(ctx)
	if canPull == nil {
		return a.reg.Catalog(reqctx.Context(ctx), last, n)
	}
	var out engine.Page
	for {
		p, err := a.reg.Catalog(reqctx.Context(ctx), last, n)
		if err != nil {
			return out, err
		}
		for i, repo := range p.Items {
			if n >= 0 && len(out.Items) == n {
				// Full with items of this page left: more may follow.
				out.More = true
				return out, nil
			}
			if canPull(repo) {
				out.Items = append(out.Items, repo)
			}
			last = p.Items[i]
		}
		if !p.More || len(p.Items) == 0 {
			return out, nil
		}
		if n >= 0 && len(out.Items) == n {
			out.More = true
			return out, nil
		}
	}
}

func (a *API) referrers(ctx *fasthttp.RequestCtx, rt route) error {
	d, err := names.Digest(rt.arg)
	if err != nil {
		return err
	}
	artifactType := string(ctx.QueryArgs().Peek("artifactType"))
	descs, err := a.reg.Referrers(reqctx.Context(ctx), rt.repo, d, artifactType)
	if err != nil {
		return err
	}
	if artifactType != "" {
		ctx.Response.Header.Set("OCI-Filters-Applied", "artifactType")
	}
	b, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     descs,
	})
	if err != nil {
		return err
	}
	ctx.SetContentType("application/vnd.oci.image.index.v1+json")
	ctx.SetBody(b)
	return nil
}
