package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// AccessKey describes a system account's access key; the secret itself is
// only ever returned once, by CreateAccessKey.
type AccessKey struct {
	ID          string
	Account     string
	Description string
	Created     time.Time
	Revoked     time.Time // zero while valid
}

// An access key is "mcr_<16 hex id>_<43 base64url characters>": the id
// finds the record, the secret (256 bits) is checked against its SHA-256.
// Clients send it as the password, with the account name as the user.
const (
	keyPrefix = "mcr_"
	keyIDLen  = 16
)

// parseAccessKey splits a presented secret into key id and secret; ok is
// false when it does not look like an access key (then it is a password).
func parseAccessKey(s string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(s, keyPrefix)
	if !found || len(rest) < keyIDLen+2 || rest[keyIDLen] != '_' {
		return "", "", false
	}
	id = rest[:keyIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, rest[keyIDLen+1:], true
}

// CreateAccessKey creates a key for system account accountID and returns
// the secret to show once.
func (s *Service) CreateAccessKey(ctx context.Context, accountID, description string) (AccessKey, string, error) {
	var raw [32]byte
	var idb [keyIDLen / 2]byte
	_, _ = rand.Read(raw[:])
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(secret))
	now := s.now()
	rec := kv.AccessKeyRecord{ID: id, Account: accountID, Hash: sum[:], Description: description, Created: now.UnixNano()}
	err := s.store.Update(ctx, func(t kv.Txn) error {
		acct, err := getAccount(t, accountID)
		if err != nil {
			return err
		}
		if acct.Type != System {
			return errcode.New(errcode.Invalid, "access keys are for system accounts; %s is %s", acct.Name, acct.Type)
		}
		return t.Set(kv.AccessKeyKey(id), rec.Encode())
	})
	if errors.Is(err, kv.ErrNotFound) {
		return AccessKey{}, "", errNoAccount(accountID)
	}
	if err != nil {
		return AccessKey{}, "", err
	}
	return toAccessKey(rec), keyPrefix + id + "_" + secret, nil
}

func toAccessKey(r kv.AccessKeyRecord) AccessKey {
	k := AccessKey{ID: r.ID, Account: r.Account, Description: r.Description, Created: time.Unix(0, r.Created)}
	if r.Revoked != 0 {
		k.Revoked = time.Unix(0, r.Revoked)
	}
	return k
}

// AccessKeys lists the keys of account accountID, revoked ones included.
func (s *Service) AccessKeys(ctx context.Context, accountID string) ([]AccessKey, error) {
	recs, err := kv.LoadAll(ctx, s.store, kv.AccessKeyPrefix(), kv.DecodeAccessKey)
	if err != nil {
		return nil, err
	}
	var out []AccessKey
	for _, r := range recs {
		if r.Account == accountID {
			out = append(out, toAccessKey(r))
		}
	}
	return out, nil
}

// RevokeAccessKey revokes key id at once: the next login with it fails,
// cached logins included.
func (s *Service) RevokeAccessKey(ctx context.Context, id string) error {
	err := s.store.Update(ctx, func(t kv.Txn) error {
		r, err := kv.GetRecord(t, kv.AccessKeyKey(id), kv.DecodeAccessKey)
		if err != nil {
			return err
		}
		if r.Revoked == 0 {
			r.Revoked = s.now().UnixNano()
		}
		return t.Set(kv.AccessKeyKey(id), r.Encode())
	})
	if errors.Is(err, kv.ErrNotFound) {
		return errcode.New(errcode.NameUnknown, "no access key %s", id)
	}
	return err
}

// checkAccessKey verifies secret for key id of account acct.
func checkAccessKey(t kv.Reader, acct kv.AccountRecord, id, secret string) error {
	r, err := kv.GetRecord(t, kv.AccessKeyKey(id), kv.DecodeAccessKey)
	if errors.Is(err, kv.ErrNotFound) {
		return ErrBadKey
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], r.Hash) != 1 || r.Account != acct.ID || r.Revoked != 0 {
		return ErrBadKey
	}
	return nil
}
