package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// ErrNoSession is returned for a session id that is unknown, expired or
// ended: the caller is simply not signed in.
var ErrNoSession = errcode.New(errcode.Unauthorized, "not signed in")

// Session is a web UI sign-in, stored server-side so that signing out (or
// disabling the account) ends it at once, on every replica sharing the
// store.
type Session struct {
	// ID is the cookie value: 256 random bits. Only its SHA-256 is
	// stored, so a copy of the metadata store does not sign anyone in.
	ID        string
	Principal Principal
	// CSRF is the token every state-changing form of this session must
	// carry (synchronizer token pattern).
	CSRF    string
	Expires time.Time
}

func sessionKey(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return kv.SessionKey(hex.EncodeToString(sum[:]))
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateSession signs p in for ttl. It also drops the sessions that have
// expired, so abandoned sign-ins do not pile up: sessions are few (one per
// browser sign-in) and logins are rate limited, so the scan is cheap.
func (s *Service) CreateSession(ctx context.Context, p Principal, ttl time.Duration) (Session, error) {
	now := s.now()
	sess := Session{ID: randomToken(), Principal: p, CSRF: randomToken(), Expires: now.Add(ttl)}
	rec := kv.SessionRecord{AccountID: p.ID, Name: p.Name, Type: p.Type, Roles: slices.Clone(p.Roles),
		CSRF: sess.CSRF, Created: now.UnixNano(), Expires: sess.Expires.UnixNano()}
	err := s.store.Update(ctx, func(t kv.Txn) error {
		_, err := kv.DeleteWhere(t, kv.SessionPrefix(), func(_, v []byte) bool {
			r, err := kv.DecodeSession(v)
			return err != nil || r.Expires <= now.UnixNano()
		})
		if err != nil {
			return err
		}
		return t.Set(sessionKey(sess.ID), rec.Encode())
	})
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

// Session looks up a session by its cookie value; ErrNoSession when it is
// unknown or expired.
func (s *Service) Session(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, ErrNoSession
	}
	rec, err := kv.Load(ctx, s.store, sessionKey(id), kv.DecodeSession)
	if errors.Is(err, kv.ErrNotFound) || (err == nil && rec.Expires <= s.now().UnixNano()) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	return Session{
		ID:        id,
		Principal: Principal{ID: rec.AccountID, Name: rec.Name, Type: rec.Type, Roles: rec.Roles},
		CSRF:      rec.CSRF, Expires: time.Unix(0, rec.Expires),
	}, nil
}

// EndSession signs a session out; ending an unknown session is not an
// error (a double sign-out, an expired cookie).
func (s *Service) EndSession(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(t kv.Txn) error { return t.Delete(sessionKey(id)) })
}
