package identity

import (
	"context"
	"sync"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Account names are unique ignoring case, and matched exactly at login.
func TestNamesUniqueIgnoringCase(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newService(t, store, nil, Options{})
	admin, err := s.CreateAccount(ctx, NewAccount{Name: "Admin", Type: Human, Password: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin", "ADMIN", "Admin", "aDmIn"} {
		_, err := s.CreateAccount(ctx, NewAccount{Name: name, Type: Human, Password: "other-password"})
		if errcode.KindOf(err) != errcode.Conflict {
			t.Errorf("creating %q beside %q: %v", name, "Admin", err)
		}
	}
	if _, err := s.Login(ctx, "Admin", "admin-password"); err != nil {
		t.Errorf("exact name: %v", err)
	}
	if _, err := s.Login(ctx, "admin", "admin-password"); errcode.KindOf(err) != errcode.Unauthorized {
		t.Errorf("another case logs in: %v", err)
	}
	// Deleting the account frees the name in every case.
	if err := s.DeleteAccount(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, NewAccount{Name: "admin", Type: Human, Password: "admin-password"}); err != nil {
		t.Errorf("name not freed: %v", err)
	}
}

// Accounts written before fold keys existed still block a name that
// differs only in case.
func TestNamesLegacyAccounts(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := newService(t, store, nil, Options{})
	rec := kv.AccountRecord{ID: "legacy-id", Name: "Carol", Type: Human}
	err := store.Update(ctx, func(t kv.Txn) error {
		if err := t.Set(kv.AccountNameKey(rec.Name), []byte(rec.ID)); err != nil {
			return err
		}
		return t.Set(kv.AccountKey(rec.ID), rec.Encode())
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, NewAccount{Name: "carol", Type: System}); errcode.KindOf(err) != errcode.Conflict {
		t.Errorf("creating carol beside a legacy Carol: %v", err)
	}
	if err := s.DeleteAccount(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, NewAccount{Name: "carol", Type: System}); err != nil {
		t.Errorf("after deleting the legacy account: %v", err)
	}
}

// Concurrent creations of names that differ only in case: exactly one
// wins.
func TestNamesConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	s := newService(t, newStore(t), nil, Options{})
	names := []string{"dave", "Dave", "DAVE", "dAVE", "daVe", "DaVe"}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateAccount(ctx, NewAccount{Name: n, Type: System})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch errcode.KindOf(err) {
		case errcode.Conflict:
		case errcode.Internal:
			if err != nil {
				t.Errorf("%s: %v", names[i], err)
				continue
			}
			won++
		default:
			t.Errorf("%s: %v", names[i], err)
		}
	}
	accts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || len(accts) != 1 {
		t.Errorf("%d creations succeeded, %d accounts exist", won, len(accts))
	}
}
