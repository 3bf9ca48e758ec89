package ui

import (
	"slices"
	"strings"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// The accounts pages: mcr's own accounts (builtin mode) and the access
// keys of the system ones, behind the admin action as in the admin API.
func (u *UI) registerAccounts(r *router.Router) {
	p := Prefix + "/accounts"
	r.GET(p, u.page(u.admin(u.accounts)))
	r.GET(p+"/{id}", u.page(u.admin(u.account)))
	r.POST(p+"/{id}/keys", u.form(u.admin(u.createKey)))
	r.POST(p+"/{id}/keys/{key}/revoke", u.form(u.admin(u.revokeKey)))
}

// ManagesAccounts reports whether the accounts are mcr's own, so the UI
// can show them.
func (v *viewer) ManagesAccounts() bool { return v.u.d.Accounts != nil }

func (u *UI) accountsService() (*identity.Service, error) {
	if u.d.Accounts == nil {
		return nil, errcode.New(errcode.Conflict, "accounts are not managed by this registry (auth mode is not builtin)")
	}
	return u.d.Accounts, nil
}

func (u *UI) accounts(ctx *fasthttp.RequestCtx, v *viewer) error {
	ids, err := u.accountsService()
	if err != nil {
		return err
	}
	as, err := ids.Accounts(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	slices.SortFunc(as, func(a, b identity.Account) int { return strings.Compare(a.Name, b.Name) })
	return u.render(ctx, fasthttp.StatusOK, "accounts", "Accounts", v, as)
}

// accountData is an account's page; Secret is set once, on the answer
// that created a key.
type accountData struct {
	Account identity.Account
	Keys    []identity.AccessKey
	Secret  string
	NewKey  string
}

func (u *UI) loadAccount(ctx *fasthttp.RequestCtx) (*identity.Service, accountData, error) {
	ids, err := u.accountsService()
	if err != nil {
		return nil, accountData{}, err
	}
	id, _ := ctx.UserValue("id").(string)
	a, err := ids.Account(reqctx.Context(ctx), id)
	if err != nil {
		return nil, accountData{}, err
	}
	keys, err := ids.AccessKeys(reqctx.Context(ctx), a.ID)
	return ids, accountData{Account: a, Keys: keys}, err
}

func (u *UI) account(ctx *fasthttp.RequestCtx, v *viewer) error {
	_, d, err := u.loadAccount(ctx)
	if err != nil {
		return err
	}
	return u.render(ctx, fasthttp.StatusOK, "account", d.Account.Name, v, d)
}

// createKey makes an access key and shows its secret on this answer
// only: it is not stored, and not in any URL.
func (u *UI) createKey(ctx *fasthttp.RequestCtx, v *viewer) error {
	ids, d, err := u.loadAccount(ctx)
	if err != nil {
		return err
	}
	k, secret, err := ids.CreateAccessKey(reqctx.Context(ctx), d.Account.ID, v.field("description"))
	if err != nil {
		return err
	}
	u.record(ctx, v, audit.AccountChange, string(policy.Admin), "", "", "access key "+k.ID+" created for "+d.Account.Name+" (web UI)")
	d.Keys = append(d.Keys, k)
	d.Secret, d.NewKey = secret, k.ID
	return u.render(ctx, fasthttp.StatusCreated, "account", d.Account.Name, v, d)
}

func (u *UI) revokeKey(ctx *fasthttp.RequestCtx, v *viewer) error {
	ids, d, err := u.loadAccount(ctx)
	if err != nil {
		return err
	}
	key, _ := ctx.UserValue("key").(string)
	if !slices.ContainsFunc(d.Keys, func(k identity.AccessKey) bool { return k.ID == key }) {
		return errcode.New(errcode.NotFound, "account %s has no access key %s", d.Account.Name, key)
	}
	if err := ids.RevokeAccessKey(reqctx.Context(ctx), key); err != nil {
		return err
	}
	u.record(ctx, v, audit.AccountChange, string(policy.Admin), "", "", "access key "+key+" of "+d.Account.Name+" revoked (web UI)")
	return redirect(ctx, Prefix+"/accounts/"+d.Account.ID)
}
