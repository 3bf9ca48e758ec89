package kvtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Contracts a store that holds a transaction's writes back until its
// commit (PostgreSQL: postgres_writes.go) must keep exactly as one that
// applies them at once (Badger): every read in the transaction sees them.

// A transaction's writes, rewrites and deletes, in every combination, are
// what its own Get, Has, GetMany and Scan see, and what it commits.
func testBufferedWrites(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		for _, k := range []string{"w/deleted", "w/reset", "w/kept"} {
			if err := tx.Set([]byte(k), []byte("before")); err != nil {
				return err
			}
		}
		return nil
	})
	want := map[string]string{"w/kept": "before", "w/new": "new", "w/reset": "again", "w/twice": "second"}
	update(t, s, func(tx kv.Txn) error {
		steps := []func() error{
			func() error { return tx.Set([]byte("w/new"), []byte("new")) },
			func() error { return tx.Delete([]byte("w/deleted")) },
			func() error { return tx.Delete([]byte("w/reset")) },
			func() error { return tx.Set([]byte("w/reset"), []byte("again")) },
			func() error { return tx.Set([]byte("w/twice"), []byte("first")) },
			func() error { return tx.Set([]byte("w/twice"), []byte("second")) },
			func() error { return tx.Set([]byte("w/gone"), []byte("short-lived")) },
			func() error { return tx.Delete([]byte("w/gone")) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		return checkContents(tx, want)
	})
	view(t, s, func(r kv.Reader) error { return checkContents(r, want) })
}

// checkContents checks that r holds exactly want under "w/", through
// every kind of read.
func checkContents(r kv.Reader, want map[string]string) error {
	all := []string{"w/deleted", "w/gone", "w/kept", "w/new", "w/reset", "w/twice"}
	var keys [][]byte
	for _, k := range all {
		keys = append(keys, []byte(k))
		v, err := r.Get([]byte(k))
		w, ok := want[k]
		switch {
		case !ok && !errors.Is(err, kv.ErrNotFound):
			return fmt.Errorf("get %s = %q, %v; want ErrNotFound", k, v, err)
		case ok && (err != nil || string(v) != w):
			return fmt.Errorf("get %s = %q, %v; want %q", k, v, err, w)
		}
		if has, err := r.Has([]byte(k)); err != nil || has != ok {
			return fmt.Errorf("has %s = %v, %v; want %v", k, has, err, ok)
		}
	}
	vs, err := kv.GetMany(r, keys...)
	if err != nil {
		return err
	}
	for i, k := range all {
		if w, ok := want[k]; (vs[i] != nil) != ok || string(vs[i]) != w {
			return fmt.Errorf("GetMany %s = %q; want %q (present: %v)", k, vs[i], w, ok)
		}
	}
	var got []string
	err = r.Scan([]byte("w/"), nil, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	var exp []string
	for k, v := range want {
		exp = append(exp, k+"="+v)
	}
	slices.Sort(exp)
	if err != nil || !slices.Equal(got, exp) {
		return fmt.Errorf("scan = %q, %v; want %q", got, err, exp)
	}
	// A seek past some of them sees only the rest.
	var after []string
	err = r.ScanKeys([]byte("w/"), []byte("new"), func(k []byte) error {
		after = append(after, string(k))
		return nil
	})
	if err != nil || !slices.Equal(after, []string{"w/reset", "w/twice"}) {
		return fmt.Errorf("scan after w/new = %q, %v", after, err)
	}
	return nil
}

// GetMany and ReadKeys answer in the order asked: nil for an absent key,
// a non-nil empty slice for an empty value, the same value for a key
// asked twice.
func testGetMany(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		if err := tx.Set([]byte("g/a"), []byte("A")); err != nil {
			return err
		}
		return tx.Set([]byte("g/empty"), nil)
	})
	keys := [][]byte{[]byte("g/missing"), []byte("g/a"), []byte("g/empty"), []byte("g/a")}
	check := func(how string, vs [][]byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if len(vs) != 4 || vs[0] != nil || string(vs[1]) != "A" || vs[2] == nil || len(vs[2]) != 0 || string(vs[3]) != "A" {
			t.Fatalf("%s = %q (empty value nil: %v)", how, vs, len(vs) > 2 && vs[2] == nil)
		}
	}
	vs, err := kv.ReadKeys(context.Background(), s, keys...)
	check("ReadKeys", vs, err)
	view(t, s, func(r kv.Reader) error {
		vs, err := kv.GetMany(r, keys...)
		check("GetMany in a View", vs, err)
		return nil
	})
	update(t, s, func(tx kv.Txn) error {
		vs, err := kv.GetMany(tx, keys...)
		check("GetMany in an Update", vs, err)
		return nil
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.ReadKeys(context.Background(), s, keys...); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("ReadKeys on a closed store: %v, want ErrClosed", err)
	}
}
