package adminsvc

import (
	"context"
	"slices"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

func accountDoc(a identity.Account) apiv1.Account {
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
func (s *Service) identities() (*identity.Service, error) {
	if s.d.Identity == nil {
		return nil, errNotManaged("accounts")
	}
	return s.d.Identity, nil
}

// account finds an account by id, then by name.
func account(ctx context.Context, ids *identity.Service, who string) (identity.Account, error) {
	acct, err := ids.Account(ctx, who)
	if errcode.KindOf(err) == errcode.NameUnknown {
		acct, err = ids.AccountByName(ctx, who)
	}
	return acct, err
}

// named is the account who (an id or a name) names.
func (s *Service) named(ctx context.Context, who string) (*identity.Service, identity.Account, error) {
	ids, err := s.identities()
	if err != nil {
		return nil, identity.Account{}, err
	}
	acct, err := account(ctx, ids, who)
	return ids, acct, err
}

// accountChanged audits a change to acct.
func (s *Service) accountChanged(ctx context.Context, action string, acct identity.Account, detail string) {
	s.record(ctx, audit.AccountChange, action, "", "", "account "+acct.Name+" ("+acct.ID+")"+detail)
}

// Accounts lists the accounts.
func (s *Service) Accounts(ctx context.Context) (apiv1.AccountList, error) {
	ids, err := s.identities()
	if err != nil {
		return apiv1.AccountList{}, err
	}
	all, err := ids.Accounts(ctx)
	if err != nil {
		return apiv1.AccountList{}, err
	}
	return apiv1.AccountList{Accounts: docs(all, accountDoc)}, nil
}

// CreateAccount creates an account; a human account without a password
// gets a generated one, returned this once.
func (s *Service) CreateAccount(ctx context.Context, in apiv1.NewAccount) (apiv1.CreatedAccount, error) {
	ids, err := s.identities()
	if err != nil {
		return apiv1.CreatedAccount{}, err
	}
	var out apiv1.CreatedAccount
	if in.Password == "" && in.Type == identity.Human {
		in.Password = identity.GeneratePassword()
		out.Password = in.Password
	}
	acct, err := ids.CreateAccount(ctx, identity.NewAccount{Name: in.Name, Type: in.Type, Roles: in.Roles, Password: in.Password})
	if err != nil {
		return apiv1.CreatedAccount{}, err
	}
	s.accountChanged(ctx, "create", acct, "")
	out.Account = accountDoc(acct)
	return out, nil
}

// Account is the account who (an id or a name) names.
func (s *Service) Account(ctx context.Context, who string) (apiv1.Account, error) {
	_, acct, err := s.named(ctx, who)
	return accountDoc(acct), err
}

// DeleteAccount deletes an account.
func (s *Service) DeleteAccount(ctx context.Context, who string) error {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return err
	}
	if err := ids.DeleteAccount(ctx, acct.ID); err != nil {
		return err
	}
	s.accountChanged(ctx, "delete", acct, "")
	return nil
}

// EnableAccount turns an account on or off.
func (s *Service) EnableAccount(ctx context.Context, who string, on bool) (apiv1.Account, error) {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return apiv1.Account{}, err
	}
	if err := ids.SetEnabled(ctx, acct.ID, on); err != nil {
		return apiv1.Account{}, err
	}
	acct.Enabled = on
	action := "disable"
	if on {
		action = "enable"
	}
	s.accountChanged(ctx, action, acct, "")
	return accountDoc(acct), nil
}

// SetPassword sets an account's password.
func (s *Service) SetPassword(ctx context.Context, who, password string) error {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return err
	}
	if err := ids.SetPassword(ctx, acct.ID, password); err != nil {
		return err
	}
	s.accountChanged(ctx, "set_password", acct, "")
	return nil
}

// AccessKeys lists an account's access keys, revoked ones included.
func (s *Service) AccessKeys(ctx context.Context, who string) (apiv1.AccessKeyList, error) {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return apiv1.AccessKeyList{}, err
	}
	keys, err := ids.AccessKeys(ctx, acct.ID)
	if err != nil {
		return apiv1.AccessKeyList{}, err
	}
	return apiv1.AccessKeyList{Keys: docs(keys, accessKey)}, nil
}

// CreateAccessKey creates a key for an account; the secret is returned
// this once.
func (s *Service) CreateAccessKey(ctx context.Context, who, description string) (apiv1.CreatedAccessKey, error) {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return apiv1.CreatedAccessKey{}, err
	}
	k, secret, err := ids.CreateAccessKey(ctx, acct.ID, description)
	if err != nil {
		return apiv1.CreatedAccessKey{}, err
	}
	s.accountChanged(ctx, "create_key", acct, " key "+k.ID)
	return apiv1.CreatedAccessKey{Key: accessKey(k), Secret: secret}, nil
}

// RevokeAccessKey revokes key id of an account; a key of another account
// is not found here.
func (s *Service) RevokeAccessKey(ctx context.Context, who, id string) error {
	ids, acct, err := s.named(ctx, who)
	if err != nil {
		return err
	}
	keys, err := ids.AccessKeys(ctx, acct.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(keys, func(k identity.AccessKey) bool { return k.ID == id }) {
		return errcode.New(errcode.NotFound, "account %s has no access key %s", acct.Name, id)
	}
	if err := ids.RevokeAccessKey(ctx, id); err != nil {
		return err
	}
	s.accountChanged(ctx, "revoke_key", acct, " key "+id)
	return nil
}
