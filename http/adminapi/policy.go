package adminapi

import (
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) listRules(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.Rules())
}

func pathID(ctx *fasthttp.RequestCtx) string { return ctx.UserValue("id").(string) }

func (a *API) getRule(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.Rule(pathID(ctx)))
}

func (a *API) createRule(ctx *fasthttp.RequestCtx) error {
	in := apiv1.NewRule() // enabled and at the default priority unless the body says otherwise
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	r, err := a.svc.CreateRule(a.changeContext(ctx), in)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusCreated, r)
}

func (a *API) replaceRule(ctx *fasthttp.RequestCtx) error {
	in := apiv1.NewRule() // enabled and at the default priority unless the body says otherwise
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	return answer(ctx)(a.svc.ReplaceRule(a.changeContext(ctx), pathID(ctx), in))
}

func (a *API) deleteRule(ctx *fasthttp.RequestCtx) error {
	return noContent(ctx, a.svc.DeleteRule(a.changeContext(ctx), pathID(ctx)))
}

func (a *API) enableRule(on bool) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		return answer(ctx)(a.svc.EnableRule(a.changeContext(ctx), pathID(ctx), on))
	}
}

// evaluate answers which rule decides a request, for an existing account
// or a hypothetical caller.
func (a *API) evaluate(ctx *fasthttp.RequestCtx) error {
	var in apiv1.EvaluateRequest
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	return answer(ctx)(a.svc.Evaluate(reqctx.Context(ctx), in))
}
