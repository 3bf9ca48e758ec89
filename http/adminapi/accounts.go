package adminapi

import (
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) listAccounts(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.Accounts(reqctx.Context(ctx)))
}

// createAccount creates an account; a human account without a password
// gets a generated one, returned this once.
func (a *API) createAccount(ctx *fasthttp.RequestCtx) error {
	var in apiv1.NewAccount
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	out, err := a.svc.CreateAccount(a.changeContext(ctx), in)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusCreated, out)
}

func (a *API) getAccount(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.Account(reqctx.Context(ctx), pathID(ctx)))
}

func (a *API) deleteAccount(ctx *fasthttp.RequestCtx) error {
	return noContent(ctx, a.svc.DeleteAccount(a.changeContext(ctx), pathID(ctx)))
}

func (a *API) enableAccount(on bool) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		return answer(ctx)(a.svc.EnableAccount(a.changeContext(ctx), pathID(ctx), on))
	}
}

func (a *API) setPassword(ctx *fasthttp.RequestCtx) error {
	var in apiv1.Password
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	return noContent(ctx, a.svc.SetPassword(a.changeContext(ctx), pathID(ctx), in.Password))
}

func (a *API) listKeys(ctx *fasthttp.RequestCtx) error {
	return answer(ctx)(a.svc.AccessKeys(reqctx.Context(ctx), pathID(ctx)))
}

func (a *API) createKey(ctx *fasthttp.RequestCtx) error {
	var in apiv1.NewAccessKey
	if err := readJSON(ctx, &in, true); err != nil {
		return err
	}
	out, err := a.svc.CreateAccessKey(a.changeContext(ctx), pathID(ctx), in.Description)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusCreated, out)
}

// revokeKey revokes a key of the account the path names; a key of another
// account is not found here.
func (a *API) revokeKey(ctx *fasthttp.RequestCtx) error {
	return noContent(ctx, a.svc.RevokeAccessKey(a.changeContext(ctx), pathID(ctx), ctx.UserValue("key").(string)))
}
