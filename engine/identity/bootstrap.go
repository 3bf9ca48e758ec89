package identity

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// ErrInitialized is returned by Bootstrap when accounts already exist.
var ErrInitialized = errcode.New(errcode.Conflict, "accounts exist already: the registry is initialized")

// Bootstrap creates the first admin (a human account with role admin) on a
// registry that has no account. With password "" it generates one and
// returns it: the caller writes it somewhere only the operator can read,
// never to a log.
func (s *Service) Bootstrap(ctx context.Context, name, password string) (Account, string, error) {
	has, err := s.HasAccounts(ctx)
	if err != nil {
		return Account{}, "", err
	}
	if has {
		return Account{}, "", ErrInitialized
	}
	if password == "" {
		password = GeneratePassword()
	}
	a, err := s.CreateAccount(ctx, NewAccount{Name: name, Type: Human, Roles: []string{RoleAdmin}, Password: password})
	if err != nil {
		return Account{}, "", err
	}
	return a, password, nil
}
