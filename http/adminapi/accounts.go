package adminapi

import (
	"context"
	"slices"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func account(a identity.Account) apiv1.Account {
	roles := a.Roles
	if roles == nil {
		roles = []string{}
	}
	return apiv1.Account{ID: a.ID, Name: a.Name, Type: a.Type, Roles: roles, Enabled: a.Enabled, Created: a.Created.UTC()}
}

func accessKey(k identity.AccessKey) apiv1.AccessKey {
	return apiv1.AccessKey{ID: k.ID, Account: k.Account, Description: k.Description, Created: k.Created.UTC(), Revoked: timeOrNil(k.Revoked)}
}

// identities is the identity service, or the refusal when accounts are
// not mcr's own (MCIAS mode, auth off).
func (a *API) identities() (*identity.Service, error) {
	if a.d.Identity == nil {
		return nil, errNotManaged("accounts")
	}
	return a.d.Identity, nil
}

// account finds an account by id, then by name.
func (a *API) account(ctx context.Context, who string) (identity.Account, error) {
	acct, err := a.d.Identity.Account(ctx, who)
	if errcode.KindOf(err) == errcode.NameUnknown {
		acct, err = a.d.Identity.AccountByName(ctx, who)
	}
	return acct, err
}

// pathAccount is the account the path names.
func (a *API) pathAccount(ctx *fasthttp.RequestCtx) (*identity.Service, identity.Account, error) {
	ids, err := a.identities()
	if err != nil {
		return nil, identity.Account{}, err
	}
	acct, err := a.account(reqctx.Context(ctx), ctx.UserValue("id").(string))
	return ids, acct, err
}

// accountChanged audits a change to acct made through the API.
func (a *API) accountChanged(ctx *fasthttp.RequestCtx, action string, acct identity.Account, detail string) {
	a.record(ctx, audit.AccountChange, action, "", "", "account "+acct.Name+" ("+acct.ID+")"+detail)
}

func (a *API) listAccounts(ctx *fasthttp.RequestCtx) error {
	ids, err := a.identities()
	if err != nil {
		return err
	}
	all, err := ids.Accounts(reqctx.Context(ctx))
	if err != nil {
		return err
	}
	out := apiv1.AccountList{Accounts: make([]apiv1.Account, len(all))}
	for i, acct := range all {
		out.Accounts[i] = account(acct)
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

// createAccount creates an account; a human account without a password
// gets a generated one, returned this once.
func (a *API) createAccount(ctx *fasthttp.RequestCtx) error {
	ids, err := a.identities()
	if err != nil {
		return err
	}
	var in apiv1.NewAccount
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	var out apiv1.CreatedAccount
	if in.Password == "" && in.Type == identity.Human {
		in.Password = identity.GeneratePassword()
		out.Password = in.Password
	}
	acct, err := ids.CreateAccount(reqctx.Context(ctx), identity.NewAccount{Name: in.Name, Type: in.Type, Roles: in.Roles, Password: in.Password})
	if err != nil {
		return err
	}
	a.accountChanged(ctx, "create", acct, "")
	out.Account = account(acct)
	return writeJSON(ctx, fasthttp.StatusCreated, out)
}

func (a *API) getAccount(ctx *fasthttp.RequestCtx) error {
	_, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	return writeJSON(ctx, fasthttp.StatusOK, account(acct))
}

func (a *API) deleteAccount(ctx *fasthttp.RequestCtx) error {
	ids, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	if err := ids.DeleteAccount(reqctx.Context(ctx), acct.ID); err != nil {
		return err
	}
	a.accountChanged(ctx, "delete", acct, "")
	return noContent(ctx)
}

func (a *API) enableAccount(on bool) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		ids, acct, err := a.pathAccount(ctx)
		if err != nil {
			return err
		}
		if err := ids.SetEnabled(reqctx.Context(ctx), acct.ID, on); err != nil {
			return err
		}
		acct.Enabled = on
		action := "disable"
		if on {
			action = "enable"
		}
		a.accountChanged(ctx, action, acct, "")
		return writeJSON(ctx, fasthttp.StatusOK, account(acct))
	}
}

func (a *API) setPassword(ctx *fasthttp.RequestCtx) error {
	ids, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	var in apiv1.Password
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	if err := ids.SetPassword(reqctx.Context(ctx), acct.ID, in.Password); err != nil {
		return err
	}
	a.accountChanged(ctx, "set_password", acct, "")
	return noContent(ctx)
}

func (a *API) listKeys(ctx *fasthttp.RequestCtx) error {
	ids, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	keys, err := ids.AccessKeys(reqctx.Context(ctx), acct.ID)
	if err != nil {
		return err
	}
	out := apiv1.AccessKeyList{Keys: make([]apiv1.AccessKey, len(keys))}
	for i, k := range keys {
		out.Keys[i] = accessKey(k)
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

func (a *API) createKey(ctx *fasthttp.RequestCtx) error {
	ids, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	var in apiv1.NewAccessKey
	if err := readJSON(ctx, &in, true); err != nil {
		return err
	}
	k, secret, err := ids.CreateAccessKey(reqctx.Context(ctx), acct.ID, in.Description)
	if err != nil {
		return err
	}
	a.accountChanged(ctx, "create_key", acct, " key "+k.ID)
	return writeJSON(ctx, fasthttp.StatusCreated, apiv1.CreatedAccessKey{Key: accessKey(k), Secret: secret})
}

// revokeKey revokes a key of the account the path names; a key of another
// account is not found here.
func (a *API) revokeKey(ctx *fasthttp.RequestCtx) error {
	ids, acct, err := a.pathAccount(ctx)
	if err != nil {
		return err
	}
	id := ctx.UserValue("key").(string)
	keys, err := ids.AccessKeys(reqctx.Context(ctx), acct.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(keys, func(k identity.AccessKey) bool { return k.ID == id }) {
		return errcode.New(errcode.NotFound, "account %s has no access key %s", acct.Name, id)
	}
	if err := ids.RevokeAccessKey(reqctx.Context(ctx), id); err != nil {
		return err
	}
	a.accountChanged(ctx, "revoke_key", acct, " key "+id)
	return noContent(ctx)
}
