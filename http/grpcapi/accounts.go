package grpcapi

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// accountService implements mcr.v1.AccountService.
type accountService struct {
	*Server
}

func (s accountService) ListAccounts(ctx context.Context, _ *mcrv1.ListAccountsRequest) (*mcrv1.ListAccountsResponse, error) {
	all, err := s.o.Service.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListAccountsResponse{Accounts: each(all.Accounts, pbAccount)}, nil
}

func (s accountService) CreateAccount(ctx context.Context, req *mcrv1.CreateAccountRequest) (*mcrv1.CreateAccountResponse, error) {
	c, err := s.o.Service.CreateAccount(ctx, apiv1.NewAccount{Name: req.GetName(), Type: req.GetType(), Roles: req.GetRoles(), Password: req.GetPassword()})
	if err != nil {
		return nil, err
	}
	return &mcrv1.CreateAccountResponse{Account: pbAccount(c.Account), Password: c.Password}, nil
}

func (s accountService) GetAccount(ctx context.Context, req *mcrv1.GetAccountRequest) (*mcrv1.GetAccountResponse, error) {
	a, err := s.o.Service.Account(ctx, req.GetAccount())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetAccountResponse{Account: pbAccount(a)}, nil
}

func (s accountService) DeleteAccount(ctx context.Context, req *mcrv1.DeleteAccountRequest) (*mcrv1.DeleteAccountResponse, error) {
	return empty[mcrv1.DeleteAccountResponse](s.o.Service.DeleteAccount(ctx, req.GetAccount()))
}

func (s accountService) EnableAccount(ctx context.Context, req *mcrv1.EnableAccountRequest) (*mcrv1.EnableAccountResponse, error) {
	a, err := s.o.Service.EnableAccount(ctx, req.GetAccount(), true)
	if err != nil {
		return nil, err
	}
	return &mcrv1.EnableAccountResponse{Account: pbAccount(a)}, nil
}

func (s accountService) DisableAccount(ctx context.Context, req *mcrv1.DisableAccountRequest) (*mcrv1.DisableAccountResponse, error) {
	a, err := s.o.Service.EnableAccount(ctx, req.GetAccount(), false)
	if err != nil {
		return nil, err
	}
	return &mcrv1.DisableAccountResponse{Account: pbAccount(a)}, nil
}

func (s accountService) SetPassword(ctx context.Context, req *mcrv1.SetPasswordRequest) (*mcrv1.SetPasswordResponse, error) {
	return empty[mcrv1.SetPasswordResponse](s.o.Service.SetPassword(ctx, req.GetAccount(), req.GetPassword()))
}

func (s accountService) ListAccessKeys(ctx context.Context, req *mcrv1.ListAccessKeysRequest) (*mcrv1.ListAccessKeysResponse, error) {
	ks, err := s.o.Service.AccessKeys(ctx, req.GetAccount())
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListAccessKeysResponse{Keys: each(ks.Keys, pbAccessKey)}, nil
}

func (s accountService) CreateAccessKey(ctx context.Context, req *mcrv1.CreateAccessKeyRequest) (*mcrv1.CreateAccessKeyResponse, error) {
	k, err := s.o.Service.CreateAccessKey(ctx, req.GetAccount(), req.GetDescription())
	if err != nil {
		return nil, err
	}
	return &mcrv1.CreateAccessKeyResponse{Key: pbAccessKey(k.Key), Secret: k.Secret}, nil
}

func (s accountService) RevokeAccessKey(ctx context.Context, req *mcrv1.RevokeAccessKeyRequest) (*mcrv1.RevokeAccessKeyResponse, error) {
	return empty[mcrv1.RevokeAccessKeyResponse](s.o.Service.RevokeAccessKey(ctx, req.GetAccount(), req.GetKeyId()))
}
