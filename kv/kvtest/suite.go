package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Opener returns a new, empty store, closed by the caller's cleanup.
type Opener func(t *testing.T) kv.Store

// Options states what an implementation legitimately cannot do.
type Options struct {
	// MaxValue is the largest value the store holds; 0 means the 4 MiB
	// manifest limit, which every store that serves must hold. Only
	// Badger's in-memory test mode is smaller (under its 64 KiB value
	// threshold: it has no value log).
	MaxValue int
}

// ManifestLimit is the largest value the engine writes: a manifest at the
// 4 MiB limit (engine/manifest).
const ManifestLimit = 4 << 20

// Run runs every contract of the kv.Store port against stores from open.
func Run(t *testing.T, open Opener, o Options) {
	if o.MaxValue == 0 {
		o.MaxValue = ManifestLimit
	}
	tests := []struct {
		name string
		fn   func(*testing.T, kv.Store)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"OwnWrites", testOwnWrites},
		{"BufferedWrites", testBufferedWrites},
		{"GetMany", testGetMany},
		{"EmptyValues", testEmptyValues},
		{"BinaryKeys", testBinaryKeys},
		{"ScanPaging", testScanPaging},
		{"LongScan", testLongScan},
		{"ScanStopsAndFails", testScanStopsAndFails},
		{"ReadDuringScan", testReadDuringScan},
		{"PrefixIsolation", testPrefixIsolation},
		{"ConflictRetry", testConflictRetry},
		{"LostUpdate", testLostUpdate},
		{"WriteSkew", testWriteSkew},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"ErrorRollsBack", testErrorRollsBack},
		{"CancelledContext", testCancelledContext},
		{"LargeValues", func(t *testing.T, s kv.Store) { testLargeValues(t, s, o.MaxValue) }},
		{"EmptyPrefix", testEmptyPrefix},
		{"Closed", testClosed},
		{"Changes", testChanges},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	t.Run("BackupRestore", func(t *testing.T) { BackupRestore(t, open, open, o) })
}

// An empty prefix scans every key.
func testEmptyPrefix(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		for _, k := range []string{"\x00", "a", "\xff\xff"} {
			if err := tx.Set([]byte(k), nil); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(r kv.Reader) error {
		got := keys(t, r, nil, nil)
		// The store's own schema key ("v") is there too.
		if !equal(got, []string{"\x00", "a", string(kv.SchemaKey()), "\xff\xff"}) {
			t.Errorf("scan of the empty prefix: %q", got)
		}
		return nil
	})
}

// BackupRestore checks the optional Backuper and Restorer: a backup of a
// store from src, restored into an empty store from dst, holds exactly the
// same keys and values (deleted keys absent, large and empty values and
// binary keys intact). It is skipped for stores without the capability.
// src and dst may open different implementations: the format is shared.
func BackupRestore(t *testing.T, src, dst Opener, o Options) {
	if o.MaxValue == 0 {
		o.MaxValue = ManifestLimit
	}
	s := src(t)
	b, ok := s.(kv.Backuper)
	if !ok {
		t.Skip("the store has no backup")
	}
	want := map[string][]byte{
		"\x00bin\xff": {0, 1, 2},
		"e/empty":     {},
		"m/big":       bytes.Repeat([]byte{7}, o.MaxValue),
	}
	for i := range 3000 {
		want[fmt.Sprintf("k/%05d", i)] = fmt.Appendf(nil, "v%d", i)
	}
	update(t, s, func(tx kv.Txn) error {
		for k, v := range want {
			if err := tx.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return tx.Set([]byte("gone"), []byte("x"))
	})
	update(t, s, func(tx kv.Txn) error { return tx.Delete([]byte("gone")) })
	var buf bytes.Buffer
	if err := b.Backup(context.Background(), &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	d := dst(t)
	r, ok := d.(kv.Restorer)
	if !ok {
		t.Skip("the target store has no restore")
	}
	if err := r.Restore(context.Background(), &buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want[string(kv.SchemaKey())] = nil // compared by presence only
	n := 0
	view(t, d, func(rd kv.Reader) error {
		return rd.Scan(nil, nil, func(k, v []byte) error {
			n++
			w, ok := want[string(k)]
			switch {
			case !ok:
				t.Errorf("restored key %q was not backed up", k)
			case w != nil && !bytes.Equal(v, w):
				t.Errorf("restored %q: %d bytes, want %d", k, len(v), len(w))
			}
			return nil
		})
	})
	if n != len(want) {
		t.Errorf("restored %d keys, want %d", n, len(want))
	}
}

// update and view fail the test on an error.
func update(t *testing.T, s kv.Store, fn func(kv.Txn) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s kv.Store, fn func(kv.Reader) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// get reads key in a fresh snapshot; nil with ok false when absent.
func get(t *testing.T, s kv.Store, key []byte) (val []byte, ok bool) {
	t.Helper()
	view(t, s, func(r kv.Reader) error {
		v, err := r.Get(key)
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		val, ok = v, err == nil
		return err
	})
	return val, ok
}

// keys lists the keys under prefix after after, in scan order.
func keys(t *testing.T, r kv.Reader, prefix, after []byte) []string {
	t.Helper()
	var got []string
	if err := r.ScanKeys(prefix, after, func(k []byte) error {
		got = append(got, string(k))
		return nil
	}); err != nil {
		t.Fatalf("ScanKeys: %v", err)
	}
	return got
}

func testGetSetDelete(t *testing.T, s kv.Store) {
	k := kv.TagKey("a/b", "v1")
	update(t, s, func(tx kv.Txn) error { return tx.Set(k, []byte("sha256:x")) })
	view(t, s, func(r kv.Reader) error {
		v, err := r.Get(k)
		if err != nil || string(v) != "sha256:x" {
			return fmt.Errorf("get = %q, %v", v, err)
		}
		ok, err := r.Has(k)
		if err != nil || !ok {
			return fmt.Errorf("has = %v, %v", ok, err)
		}
		if _, err := r.Get(kv.TagKey("a/b", "v2")); !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("missing key: %v, want ErrNotFound", err)
		}
		if ok, err := r.Has(kv.TagKey("a/b", "v2")); ok || err != nil {
			return fmt.Errorf("has of a missing key = %v, %v", ok, err)
		}
		return nil
	})
	update(t, s, func(tx kv.Txn) error { return tx.Set(k, []byte("sha256:y")) })
	if v, _ := get(t, s, k); string(v) != "sha256:y" {
		t.Fatalf("overwritten value = %q", v)
	}
	update(t, s, func(tx kv.Txn) error { return tx.Delete(k) })
	if _, ok := get(t, s, k); ok {
		t.Fatal("key survived Delete")
	}
	// Deleting what is not there is not an error.
	update(t, s, func(tx kv.Txn) error { return tx.Delete(k) })
}

// A transaction reads its own writes, in Get, Has and Scan.
func testOwnWrites(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error { return tx.Set([]byte("o/1"), []byte("one")) })
	update(t, s, func(tx kv.Txn) error {
		if err := tx.Set([]byte("o/2"), []byte("two")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("o/1")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("o/2")); err != nil || string(v) != "two" {
			return fmt.Errorf("own write: %q, %v", v, err)
		}
		if ok, err := tx.Has([]byte("o/1")); ok || err != nil {
			return fmt.Errorf("own delete: has = %v, %v", ok, err)
		}
		if got := keys(t, tx, []byte("o/"), nil); len(got) != 1 || got[0] != "o/2" {
			return fmt.Errorf("scan inside the transaction: %q", got)
		}
		return nil
	})
}

func testEmptyValues(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		if err := tx.Set([]byte("e/nil"), nil); err != nil {
			return err
		}
		return tx.Set([]byte("e/empty"), []byte{})
	})
	view(t, s, func(r kv.Reader) error {
		for _, k := range []string{"e/nil", "e/empty"} {
			v, err := r.Get([]byte(k))
			if err != nil || len(v) != 0 {
				return fmt.Errorf("get %s = %q, %v", k, v, err)
			}
			if ok, err := r.Has([]byte(k)); !ok || err != nil {
				return fmt.Errorf("has %s = %v, %v", k, ok, err)
			}
		}
		n := 0
		err := r.Scan([]byte("e/"), nil, func(_, v []byte) error {
			if len(v) != 0 {
				return fmt.Errorf("scanned value %q", v)
			}
			n++
			return nil
		})
		if err == nil && n != 2 {
			err = fmt.Errorf("scan visited %d empty values, want 2", n)
		}
		return err
	})
}

// Keys are bytes, not text: NUL and 0xff sort bytewise, a key sorts before
// its extensions, and a prefix of 0xff bytes has no successor to stop at.
func testBinaryKeys(t *testing.T, s kv.Store) {
	want := []string{"\x00", "\x01\x00", "\x01\x00\x00", "\x01\x01", "\x01\x7f", "\x01\x80", "\x01\xff", "\x01\xff\xff", "\xff", "\xff\xff", "\xff\xff\x00"}
	update(t, s, func(tx kv.Txn) error {
		for i := len(want) - 1; i >= 0; i-- {
			if err := tx.Set([]byte(want[i]), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(r kv.Reader) error {
		cases := []struct {
			prefix, after string
			want          []string
		}{
			{"\x01", "", want[1:8]},
			{"\x01", "\x00", want[2:8]},
			{"\x01", "\x7f", want[5:8]},
			{"\x01\xff", "", want[6:8]},
			{"\xff", "", want[8:]},
			{"\xff\xff", "", want[9:]},
			{"\xff", "\xff", want[10:]},
			{"\x02", "", nil},
		}
		for _, c := range cases {
			if got := keys(t, r, []byte(c.prefix), []byte(c.after)); !equal(got, c.want) {
				t.Errorf("scan %q after %q = %q, want %q", c.prefix, c.after, got, c.want)
			}
		}
		for i, k := range want {
			if v, err := r.Get([]byte(k)); err != nil || !bytes.Equal(v, []byte{byte(i)}) {
				t.Errorf("get %q = %v, %v", k, v, err)
			}
		}
		return nil
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testScanPaging(t *testing.T, s kv.Store) {
	const n = 250
	update(t, s, func(tx kv.Txn) error {
		for i := range n {
			if err := tx.Set(kv.TagKey("repo", fmt.Sprintf("t%04d", i)), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	// Walk in pages of 7 using only the last key of each page, as the
	// tags/list handler does.
	var got []string
	after := ""
	for {
		var page []string
		view(t, s, func(r kv.Reader) error {
			return r.Scan(kv.TagPrefix("repo"), []byte(after), func(k, v []byte) error {
				tag := kv.Suffix(k, kv.TagPrefix("repo"))
				if want := byte(len(got) + len(page)); v[0] != want {
					return fmt.Errorf("value %d under %s, want %d", v[0], tag, want)
				}
				page = append(page, tag)
				if len(page) == 7 {
					return kv.ErrStop
				}
				return nil
			})
		})
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if len(got) != n {
		t.Fatalf("paged %d keys, want %d", len(got), n)
	}
	for i, tag := range got {
		if want := fmt.Sprintf("t%04d", i); tag != want {
			t.Fatalf("key %d = %s, want %s (order or duplicates broken)", i, tag, want)
		}
	}
}

// A scan longer than any internal page visits every key once, in order,
// with its own value, for keys and for values.
func testLongScan(t *testing.T, s kv.Store) {
	const n = 5000
	for lo := 0; lo < n; lo += 1000 {
		update(t, s, func(tx kv.Txn) error {
			for i := lo; i < lo+1000; i++ {
				if err := tx.Set(fmt.Appendf(nil, "L/%05d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	update(t, s, func(tx kv.Txn) error { return tx.Set([]byte("M/after"), []byte("x")) })
	view(t, s, func(r kv.Reader) error {
		i := 0
		err := r.Scan([]byte("L/"), nil, func(k, v []byte) error {
			if string(k) != fmt.Sprintf("L/%05d", i) || string(v) != fmt.Sprintf("v%d", i) {
				return fmt.Errorf("entry %d = %s: %s", i, k, v)
			}
			i++
			return nil
		})
		if err == nil && i != n {
			err = fmt.Errorf("scanned %d entries, want %d", i, n)
		}
		if err != nil {
			return err
		}
		if got := keys(t, r, []byte("L/"), []byte("01234")); len(got) != n-1235 || got[0] != "L/01235" || got[len(got)-1] != "L/04999" {
			return fmt.Errorf("seek: %d keys from %q", len(got), got[0])
		}
		return nil
	})
}

func testScanStopsAndFails(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		for i := range 10 {
			if err := tx.Set(fmt.Appendf(nil, "s/%d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	boom := errors.New("boom")
	view(t, s, func(r kv.Reader) error {
		n := 0
		if err := r.ScanKeys([]byte("s/"), nil, func([]byte) error {
			n++
			if n == 3 {
				return kv.ErrStop
			}
			return nil
		}); err != nil || n != 3 {
			return fmt.Errorf("ErrStop after 3: scan = %v after %d keys", err, n)
		}
		if err := r.Scan([]byte("s/"), nil, func(_, _ []byte) error { return boom }); !errors.Is(err, boom) {
			return fmt.Errorf("callback error: scan = %v", err)
		}
		return nil
	})
}

// A scan callback may read through the same transaction (the engine looks
// up records while it walks an index).
func testReadDuringScan(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		for i := range 300 {
			if err := tx.Set(fmt.Appendf(nil, "i/%03d", i), fmt.Appendf(nil, "r/%03d", i)); err != nil {
				return err
			}
			if err := tx.Set(fmt.Appendf(nil, "r/%03d", i), fmt.Appendf(nil, "%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	read := func(r kv.Reader) error {
		n := 0
		err := r.Scan([]byte("i/"), nil, func(_, v []byte) error {
			got, err := r.Get(v)
			if err != nil || string(got) != fmt.Sprint(n) {
				return fmt.Errorf("get %s during the scan = %q, %v", v, got, err)
			}
			n++
			return nil
		})
		if err == nil && n != 300 {
			err = fmt.Errorf("scanned %d, want 300", n)
		}
		return err
	}
	view(t, s, read)
	update(t, s, func(tx kv.Txn) error { return read(tx) })
}

// Repository "a" never sees the keys of "a/b" or "ab": the '@' separator.
func testPrefixIsolation(t *testing.T, s kv.Store) {
	repos := []string{"a", "a/b", "ab", "a-b"}
	update(t, s, func(tx kv.Txn) error {
		for _, repo := range repos {
			if err := tx.Set(kv.TagKey(repo, "latest"), []byte(repo)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, repo := range repos {
		var vals [][]byte
		view(t, s, func(r kv.Reader) error {
			return r.Scan(kv.TagPrefix(repo), nil, func(_, v []byte) error {
				vals = append(vals, bytes.Clone(v))
				return nil
			})
		})
		if len(vals) != 1 || string(vals[0]) != repo {
			t.Errorf("tags of %q: %q", repo, vals)
		}
	}
}

// Concurrent read-modify-write increments of one key must all land: the
// losers of each conflict are retried, none is lost.
func testConflictRetry(t *testing.T, s kv.Store) {
	k := kv.BlobKey("sha256:counter")
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- s.Update(context.Background(), func(tx kv.Txn) error {
					rec := kv.BlobRecord{}
					if v, err := tx.Get(k); err == nil {
						if rec, err = kv.DecodeBlob(v); err != nil {
							return err
						}
					} else if !errors.Is(err, kv.ErrNotFound) {
						return err
					}
					rec.Size++
					return tx.Set(k, rec.Encode())
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, _ := get(t, s, k)
	if rec, err := kv.DecodeBlob(v); err != nil || rec.Size != workers*each {
		t.Errorf("counter = %d (%v), want %d: an increment was lost", rec.Size, err, workers*each)
	}
}

// rendezvous makes the first attempts of two transactions wait for each
// other after their reads, so that both have read before either commits.
// Retries pass straight through.
type rendezvous struct {
	arrived [2]chan struct{}
	once    [2]sync.Once
}

func newRendezvous() *rendezvous {
	return &rendezvous{arrived: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
}

// meet is called by side i (0 or 1) after its reads.
func (r *rendezvous) meet(i int) {
	first := false
	r.once[i].Do(func() { first = true; close(r.arrived[i]) })
	if first {
		<-r.arrived[1-i]
	}
}

// testLostUpdate is the GC sweep against a push, reduced: two transactions
// read the same key, then both write it. Whatever the interleaving, one of
// them must fail its commit and run again on the other's result, so both
// increments land and at least one closure ran twice.
func testLostUpdate(t *testing.T, s kv.Store) {
	k := []byte("c/shared")
	update(t, s, func(tx kv.Txn) error { return tx.Set(k, []byte{0}) })
	rv := newRendezvous()
	var runs [2]int
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = s.Update(context.Background(), func(tx kv.Txn) error {
				runs[i]++
				v, err := tx.Get(k)
				if err != nil {
					return err
				}
				rv.meet(i)
				return tx.Set(k, []byte{v[0] + 1})
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, s, k); len(v) != 1 || v[0] != 2 {
		t.Fatalf("value %v after two increments, want [2]: an update was lost", v)
	}
	if runs[0]+runs[1] < 3 {
		t.Fatalf("closures ran %v times: two transactions that read and wrote one key both committed first time", runs)
	}
}

// testWriteSkew: each transaction reads both keys, and sets its own only if
// neither is set. Any serial order sets exactly one key; snapshot
// isolation alone would set both. This is the shape of a read of an absent
// key (a blob record GC just removed) guarding a write elsewhere.
func testWriteSkew(t *testing.T, s kv.Store) {
	ks := [2][]byte{[]byte("w/0"), []byte("w/1")}
	rv := newRendezvous()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = s.Update(context.Background(), func(tx kv.Txn) error {
				n := 0
				for _, k := range ks {
					ok, err := tx.Has(k)
					if err != nil {
						return err
					}
					if ok {
						n++
					}
				}
				rv.meet(i)
				if n > 0 {
					return nil
				}
				return tx.Set(ks[i], nil)
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	view(t, s, func(r kv.Reader) error {
		if got := keys(t, r, []byte("w/"), nil); len(got) != 1 {
			t.Errorf("keys set: %q, want exactly one (write skew)", got)
		}
		return nil
	})
}

// A read-only snapshot sees neither the changes nor the new keys of
// transactions that commit while it is open.
func testSnapshotIsolation(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error {
		if err := tx.Set([]byte("n/a"), []byte("1")); err != nil {
			return err
		}
		return tx.Set([]byte("n/gone"), []byte("1"))
	})
	view(t, s, func(r kv.Reader) error {
		if v, err := r.Get([]byte("n/a")); err != nil || string(v) != "1" {
			return fmt.Errorf("before: %q, %v", v, err)
		}
		update(t, s, func(tx kv.Txn) error {
			if err := tx.Set([]byte("n/a"), []byte("2")); err != nil {
				return err
			}
			if err := tx.Set([]byte("n/b"), []byte("2")); err != nil {
				return err
			}
			return tx.Delete([]byte("n/gone"))
		})
		if v, err := r.Get([]byte("n/a")); err != nil || string(v) != "1" {
			return fmt.Errorf("the snapshot saw a later commit: %q, %v", v, err)
		}
		if got := keys(t, r, []byte("n/"), nil); !equal(got, []string{"n/a", "n/gone"}) {
			return fmt.Errorf("the snapshot's scan saw a later commit: %q", got)
		}
		return nil
	})
	if v, _ := get(t, s, []byte("n/a")); string(v) != "2" {
		t.Fatalf("after the snapshot: %q, want the committed 2", v)
	}
}

func testErrorRollsBack(t *testing.T, s kv.Store) {
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx kv.Txn) error {
		if err := tx.Set(kv.RepoKey("x"), kv.RepoRecord{Created: 1}.Encode()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if _, ok := get(t, s, kv.RepoKey("x")); ok {
		t.Error("a failed Update left a write behind")
	}
}

func testCancelledContext(t *testing.T, s kv.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("x/c"), nil) }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context = %v", err)
	}
	if err := s.View(ctx, func(kv.Reader) error { return nil }); err == nil {
		t.Error("View with a cancelled context succeeded")
	}
	if _, ok := get(t, s, []byte("x/c")); ok {
		t.Error("a cancelled Update wrote")
	}
}

// testLargeValues commits what the engine's largest transaction holds: a
// manifest at the limit and more small keys than a GC chunk.
func testLargeValues(t *testing.T, s kv.Store, limit int) {
	big := make([]byte, limit)
	for i := range big {
		big[i] = byte(i * 7 % 251) // not compressible to nothing
	}
	update(t, s, func(tx kv.Txn) error {
		if err := tx.Set([]byte("m/big"), big); err != nil {
			return err
		}
		for i := range 512 {
			if err := tx.Set(fmt.Appendf(nil, "k/%04d", i), bytes.Repeat([]byte("v"), 128)); err != nil {
				return err
			}
		}
		return nil
	})
	if got, _ := get(t, s, []byte("m/big")); !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes of a %d-byte value", len(got), len(big))
	}
	view(t, s, func(r kv.Reader) error {
		return r.Scan([]byte("m/"), nil, func(_, v []byte) error {
			if !bytes.Equal(v, big) {
				return fmt.Errorf("scanned %d bytes of a %d-byte value", len(v), len(big))
			}
			return nil
		})
	})
}

func testClosed(t *testing.T, s kv.Store) {
	update(t, s, func(tx kv.Txn) error { return tx.Set([]byte("z"), nil) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(context.Background(), func(kv.Reader) error { return nil }); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Update(context.Background(), func(kv.Txn) error { return nil }); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
}
