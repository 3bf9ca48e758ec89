package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/kv"
)

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	c := clock.At(time.Unix(1_700_000_000, 0))
	s := newService(t, store, c, Options{})
	p := Principal{ID: "a1", Name: "ann", Type: Human, Roles: []string{RoleAdmin}}
	sess, err := s.CreateSession(ctx, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.ID) < 40 || len(sess.CSRF) < 40 || sess.ID == sess.CSRF {
		t.Fatalf("weak session id or CSRF token: %q %q", sess.ID, sess.CSRF)
	}
	got, err := s.Session(ctx, sess.ID)
	if err != nil || got.Principal.Name != "ann" || got.Principal.Roles[0] != RoleAdmin || got.CSRF != sess.CSRF {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	// The store holds a hash of the id, never the id itself.
	_ = store.View(ctx, func(r kv.Reader) error {
		if ok, _ := r.Has(kv.SessionKey(sess.ID)); ok {
			t.Error("the session id is stored in clear")
		}
		return nil
	})
	if _, err := s.Session(ctx, sess.ID+"x"); !errors.Is(err, ErrNoSession) {
		t.Errorf("a wrong id: %v", err)
	}
	if err := s.EndSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Errorf("after sign-out: %v", err)
	}
	if err := s.EndSession(ctx, sess.ID); err != nil {
		t.Errorf("second sign-out: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	c := clock.At(time.Unix(1_700_000_000, 0))
	s := newService(t, store, c, Options{})
	old, err := s.CreateSession(ctx, Principal{ID: "a1", Name: "ann"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute)
	if _, err := s.Session(ctx, old.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired session accepted: %v", err)
	}
	// The next sign-in drops the expired record.
	if _, err := s.CreateSession(ctx, Principal{ID: "a2", Name: "bob"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = store.View(ctx, func(r kv.Reader) error {
		return r.ScanKeys(kv.SessionPrefix(), nil, func([]byte) error { n++; return nil })
	})
	if n != 1 {
		t.Errorf("%d session records after the expired one was pruned; want 1", n)
	}
}
