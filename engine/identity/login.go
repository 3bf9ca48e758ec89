package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Login checks name and secret (a password, or an access key of a system
// account) and returns the principal. Every failure is the same
// UNAUTHORIZED error for the client; its cause says why, for the audit log.
func (s *Service) Login(ctx context.Context, name, secret string) (Principal, error) {
	if p, ok := s.CachedLogin(ctx, name, secret); ok {
		return p, nil
	}
	ck := CredentialKey(name, secret)
	rec, err := kv.Read(ctx, s.store, func(t kv.Reader) (kv.AccountRecord, error) { return getAccountByName(t, name) })
	if errors.Is(err, kv.ErrNotFound) {
		// Spend the same time as a real check would (a hash for a
		// password, none for an access key): names are not disclosed.
		if _, _, isKey := parseAccessKey(secret); !isKey {
			_ = s.hash(ctx, func() { VerifyPassword(secret, s.dummy()) })
		}
		return Principal{}, ErrUnknownAccount
	}
	if err != nil {
		return Principal{}, err
	}
	var entry loginEntry
	if id, sec, ok := parseAccessKey(secret); ok {
		err = s.store.View(ctx, func(t kv.Reader) error { return checkAccessKey(t, rec, id, sec) })
		if errors.Is(err, ErrBadKey) {
			return Principal{}, ErrBadKey
		}
		if err != nil {
			return Principal{}, err
		}
		entry = loginEntry{account: rec.ID, keyID: id}
	} else {
		if rec.PasswordHash == "" {
			_ = s.hash(ctx, func() { VerifyPassword(secret, s.dummy()) })
			return Principal{}, ErrNoPassword
		}
		ok := false
		if err := s.hash(ctx, func() { ok = VerifyPassword(secret, rec.PasswordHash) }); err != nil {
			return Principal{}, err
		}
		if !ok {
			return Principal{}, ErrBadPassword
		}
		entry = loginEntry{account: rec.ID, passwordHash: rec.PasswordHash}
	}
	if rec.Disabled {
		return Principal{}, ErrDisabled
	}
	if s.opts.LoginCacheTTL > 0 {
		entry.expires = s.now().Add(s.opts.LoginCacheTTL)
		s.logins.put(ck, entry)
	}
	return toAccount(rec).Principal(), nil
}

// CachedLogin returns the principal of name and secret when they logged
// in successfully within the login cache's TTL and the account still
// holds them: a check of a few point reads, no argon2id. The caller can
// admit the expensive Login more strictly than this (http/auth does).
func (s *Service) CachedLogin(ctx context.Context, name, secret string) (Principal, bool) {
	ck := CredentialKey(name, secret)
	e, ok := s.logins.get(ck, s.now())
	if !ok {
		return Principal{}, false
	}
	if p, ok := s.recheck(ctx, e); ok {
		return p, true
	}
	s.logins.drop(ck)
	return Principal{}, false
}

// recheck validates a cached login against the current records: the
// account still exists and is enabled, its password is unchanged, or its
// access key is not revoked. Two point reads instead of an argon2id.
func (s *Service) recheck(ctx context.Context, e loginEntry) (Principal, bool) {
	var p Principal
	err := s.store.View(ctx, func(t kv.Reader) error {
		rec, err := getAccount(t, e.account)
		if err != nil {
			return err
		}
		if rec.Disabled {
			return ErrDisabled
		}
		if e.keyID != "" {
			v, err := t.Get(kv.AccessKeyKey(e.keyID))
			if err != nil {
				return err
			}
			ak, err := kv.DecodeAccessKey(v)
			if err != nil || ak.Revoked != 0 || ak.Account != rec.ID {
				return ErrBadKey
			}
		} else if rec.PasswordHash != e.passwordHash {
			return ErrBadPassword
		}
		p = toAccount(rec).Principal()
		return nil
	})
	return p, err == nil
}

// CredentialKey identifies a credential pair without holding its secret:
// a SHA-256 of both. It keys the login cache, and lets callers share one
// check among concurrent identical logins.
func CredentialKey(name, secret string) [32]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

type loginEntry struct {
	account      string
	passwordHash string // the hash the password was checked against
	keyID        string // or the access key used
	expires      time.Time
}

// loginCache remembers successful logins. It is a sync.Map (no lock on
// the read path) bounded by pruning expired entries, and clearing if that
// is not enough, once it passes maxLogins.
type loginCache struct {
	m sync.Map // [32]byte → loginEntry
	n atomic.Int64
}

const maxLogins = 10000

func (c *loginCache) get(k [32]byte, now time.Time) (loginEntry, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return loginEntry{}, false
	}
	e := v.(loginEntry)
	if now.After(e.expires) {
		c.drop(k)
		return loginEntry{}, false
	}
	return e, true
}

func (c *loginCache) put(k [32]byte, e loginEntry) {
	if _, loaded := c.m.Swap(k, e); !loaded && c.n.Add(1) > maxLogins {
		now := time.Now()
		c.m.Range(func(k, v any) bool {
			if now.After(v.(loginEntry).expires) {
				c.drop(k.([32]byte))
			}
			return true
		})
		if c.n.Load() > maxLogins {
			c.m.Clear()
			c.n.Store(0)
		}
	}
}

func (c *loginCache) drop(k [32]byte) {
	if _, loaded := c.m.LoadAndDelete(k); loaded {
		c.n.Add(-1)
	}
}
