package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Account types.
const (
	Human  = "human"  // a person: logs in with a password
	System = "system" // a CI robot or service: password or access keys
)

// RoleAdmin is the role the built-in policy lets do everything.
const RoleAdmin = "admin"

// Account is an identity as the rest of mcr sees it: no secrets.
type Account struct {
	ID      string
	Name    string
	Type    string
	Roles   []string
	Enabled bool
	Created time.Time
}

// Principal is an authenticated caller: what a token carries and what the
// policy is asked about. The zero Principal is anonymous.
type Principal struct {
	ID    string   // account id ("" when anonymous)
	Name  string   // account name
	Type  string   // Human or System; "" when anonymous
	Roles []string // e.g. admin
}

// Anonymous reports whether p carries no identity.
func (p Principal) Anonymous() bool { return p.ID == "" }

// Principal returns the principal of a.
func (a Account) Principal() Principal {
	return Principal{ID: a.ID, Name: a.Name, Type: a.Type, Roles: slices.Clone(a.Roles)}
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)
	roleRE = regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]{0,63}$`)
)

// NewAccount describes an account to create.
type NewAccount struct {
	Name     string
	Type     string // Human or System
	Roles    []string
	Password string // "" for a system account that uses access keys only
}

func (n NewAccount) validate() error {
	if !nameRE.MatchString(n.Name) {
		return errcode.New(errcode.Invalid, "account name %q: want 1-128 letters, digits or . _ @ + -, starting with a letter or digit", n.Name)
	}
	if n.Type != Human && n.Type != System {
		return errcode.New(errcode.Invalid, "account type %q: want human or system", n.Type)
	}
	for _, r := range n.Roles {
		if !roleRE.MatchString(r) {
			return errcode.New(errcode.Invalid, "role %q: want lower-case letters, digits, : . _ -", r)
		}
	}
	if n.Type == Human && n.Password == "" {
		return errcode.New(errcode.Invalid, "a human account needs a password")
	}
	if n.Password != "" && len(n.Password) < 8 {
		return errcode.New(errcode.Invalid, "password: at least 8 characters")
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CreateAccount creates an account; its name must be free.
func (s *Service) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	if err := n.validate(); err != nil {
		return Account{}, err
	}
	var hash string
	if n.Password != "" {
		if err := s.hash(ctx, func() { hash = HashPassword(n.Password, s.opts.Hash) }); err != nil {
			return Account{}, err
		}
	}
	now := s.now()
	rec := kv.AccountRecord{ID: newUUID(), Name: n.Name, Type: n.Type, Roles: slices.Clone(n.Roles),
		Created: now.UnixNano(), Updated: now.UnixNano(), PasswordHash: hash}
	err := s.store.Update(ctx, func(t kv.Txn) error {
		if err := nameFree(t, n.Name); err != nil {
			return err
		}
		if err := t.Set(kv.AccountFoldKey(fold(n.Name)), []byte(rec.ID)); err != nil {
			return err
		}
		if err := t.Set(kv.AccountNameKey(n.Name), []byte(rec.ID)); err != nil {
			return err
		}
		return t.Set(kv.AccountKey(rec.ID), rec.Encode())
	})
	if err != nil {
		return Account{}, err
	}
	return toAccount(rec), nil
}

// fold is the form of a name that uniqueness compares: account names are
// ASCII (nameRE), so lower case is their case folding.
func fold(name string) string { return strings.ToLower(name) }

// nameFree refuses a name that an account holds already, in any case:
// "Admin" and "admin" cannot both exist, so a name read in a log, a rule
// or an audit event means one account. The fold key makes two concurrent
// creations of such names conflict (both read and write it); the scan
// finds the accounts created before fold keys existed. Names are still
// matched exactly at login (docs/security.md).
func nameFree(t kv.Txn, name string) error {
	taken, err := t.Has(kv.AccountFoldKey(fold(name)))
	if err != nil {
		return err
	}
	if !taken {
		err = t.ScanKeys(kv.AccountNamePrefix(), nil, func(k []byte) error {
			if strings.EqualFold(kv.Suffix(k, kv.AccountNamePrefix()), name) {
				taken = true
				return kv.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if taken {
		return errcode.New(errcode.Conflict, "account %q already exists (names are unique ignoring case)", name)
	}
	return nil
}

func toAccount(r kv.AccountRecord) Account {
	return Account{ID: r.ID, Name: r.Name, Type: r.Type, Roles: r.Roles, Enabled: !r.Disabled, Created: time.Unix(0, r.Created)}
}

// errNoAccount is the NAME_UNKNOWN-like answer of the admin operations.
func errNoAccount(who string) error {
	return errcode.New(errcode.NameUnknown, "no account %s", who)
}

func getAccount(t kv.Reader, id string) (kv.AccountRecord, error) {
	return kv.GetRecord(t, kv.AccountKey(id), kv.DecodeAccount)
}

func getAccountByName(t kv.Reader, name string) (kv.AccountRecord, error) {
	id, err := t.Get(kv.AccountNameKey(name))
	if err != nil {
		return kv.AccountRecord{}, err
	}
	return getAccount(t, string(id))
}

// Account returns the account with id.
func (s *Service) Account(ctx context.Context, id string) (Account, error) {
	rec, err := kv.Read(ctx, s.store, func(t kv.Reader) (kv.AccountRecord, error) { return getAccount(t, id) })
	if errors.Is(err, kv.ErrNotFound) {
		return Account{}, errNoAccount(id)
	}
	return toAccount(rec), err
}

// AccountByName returns the account called name.
func (s *Service) AccountByName(ctx context.Context, name string) (Account, error) {
	rec, err := kv.Read(ctx, s.store, func(t kv.Reader) (kv.AccountRecord, error) { return getAccountByName(t, name) })
	if errors.Is(err, kv.ErrNotFound) {
		return Account{}, errNoAccount(name)
	}
	return toAccount(rec), err
}

// Accounts lists every account, ordered by id.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	recs, err := kv.LoadAll(ctx, s.store, kv.AccountPrefix(), kv.DecodeAccount)
	if err != nil {
		return nil, err
	}
	out := make([]Account, len(recs))
	for i, rec := range recs {
		out[i] = toAccount(rec)
	}
	return out, nil
}

// HasAccounts reports whether any account exists.
func (s *Service) HasAccounts(ctx context.Context) (bool, error) {
	found := false
	err := s.store.View(ctx, func(t kv.Reader) error {
		return t.ScanKeys(kv.AccountPrefix(), nil, func([]byte) error {
			found = true
			return kv.ErrStop
		})
	})
	return found, err
}

// update applies fn to account id's record in one transaction.
func (s *Service) update(ctx context.Context, id string, fn func(*kv.AccountRecord) error) error {
	err := s.store.Update(ctx, func(t kv.Txn) error {
		rec, err := getAccount(t, id)
		if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		rec.Updated = s.now().UnixNano()
		return t.Set(kv.AccountKey(id), rec.Encode())
	})
	if errors.Is(err, kv.ErrNotFound) {
		return errNoAccount(id)
	}
	return err
}

// SetPassword replaces account id's password.
func (s *Service) SetPassword(ctx context.Context, id, pw string) error {
	if len(pw) < 8 {
		return errcode.New(errcode.Invalid, "password: at least 8 characters")
	}
	var hash string
	if err := s.hash(ctx, func() { hash = HashPassword(pw, s.opts.Hash) }); err != nil {
		return err
	}
	return s.update(ctx, id, func(r *kv.AccountRecord) error { r.PasswordHash = hash; return nil })
}

// SetEnabled enables or disables account id. A disabled account cannot log
// in or refresh a token.
func (s *Service) SetEnabled(ctx context.Context, id string, enabled bool) error {
	return s.update(ctx, id, func(r *kv.AccountRecord) error { r.Disabled = !enabled; return nil })
}

// SetRoles replaces account id's roles.
func (s *Service) SetRoles(ctx context.Context, id string, roles []string) error {
	for _, r := range roles {
		if !roleRE.MatchString(r) {
			return errcode.New(errcode.Invalid, "role %q: want lower-case letters, digits, : . _ -", r)
		}
	}
	return s.update(ctx, id, func(r *kv.AccountRecord) error { r.Roles = slices.Clone(roles); return nil })
}

// DeleteAccount removes account id and its access keys.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	err := s.store.Update(ctx, func(t kv.Txn) error {
		rec, err := getAccount(t, id)
		if err != nil {
			return err
		}
		_, err = kv.DeleteWhere(t, kv.AccessKeyPrefix(), func(_, v []byte) bool {
			ak, err := kv.DecodeAccessKey(v)
			return err == nil && ak.Account == id
		})
		if err != nil {
			return err
		}
		if err := t.Delete(kv.AccountNameKey(rec.Name)); err != nil {
			return err
		}
		// Freeing the fold key frees the name in every case; an account
		// created before fold keys has none.
		if id, err := t.Get(kv.AccountFoldKey(fold(rec.Name))); err == nil && string(id) == rec.ID {
			if err := t.Delete(kv.AccountFoldKey(fold(rec.Name))); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return t.Delete(kv.AccountKey(id))
	})
	if errors.Is(err, kv.ErrNotFound) {
		return errNoAccount(id)
	}
	return err
}

// Principal returns the current principal of account id, refusing a
// disabled or deleted account: what a refresh is checked against.
func (s *Service) Principal(ctx context.Context, id string) (Principal, error) {
	a, err := s.Account(ctx, id)
	if errcode.KindOf(err) == errcode.NameUnknown {
		return Principal{}, ErrUnknownAccount
	}
	if err != nil {
		return Principal{}, err
	}
	if !a.Enabled {
		return Principal{}, ErrDisabled
	}
	return a.Principal(), nil
}
