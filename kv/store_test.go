package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// openers are the Store implementations the shared suite runs against.
// Badger runs both in memory (fast) and on disk (the real durability path).
var openers = map[string]func(t *testing.T) Store{
	"badger-memory": func(t *testing.T) Store {
		s, err := Open(Options{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	},
	"badger-disk": func(t *testing.T) Store {
		s, err := Open(Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	},
	"badger-disk-barrier": func(t *testing.T) Store {
		s, err := Open(Options{Dir: t.TempDir(), Barrier: &testBarrier{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	},
}

func TestStoreSuite(t *testing.T) {
	for name, open := range openers {
		t.Run(name, func(t *testing.T) {
			t.Run("GetSetDelete", func(t *testing.T) { testGetSetDelete(t, open(t)) })
			t.Run("ScanPaging", func(t *testing.T) { testScanPaging(t, open(t)) })
			t.Run("PrefixIsolation", func(t *testing.T) { testPrefixIsolation(t, open(t)) })
			t.Run("ConflictRetry", func(t *testing.T) { testConflictRetry(t, open(t)) })
			t.Run("ErrorRollsBack", func(t *testing.T) { testErrorRollsBack(t, open(t)) })
		})
	}
}

func testGetSetDelete(t *testing.T, s Store) {
	ctx := context.Background()
	k := TagKey("a/b", "v1")
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set(k, []byte("sha256:x")) }); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(r Reader) error {
		v, err := r.Get(k)
		if err != nil || string(v) != "sha256:x" {
			return fmt.Errorf("get = %q, %v", v, err)
		}
		ok, err := r.Has(k)
		if err != nil || !ok {
			return fmt.Errorf("has = %v, %v", ok, err)
		}
		if _, err := r.Get(TagKey("a/b", "v2")); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("missing key: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx Txn) error { return tx.Delete(k) }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(r Reader) error {
		if ok, _ := r.Has(k); ok {
			t.Error("key survived Delete")
		}
		return nil
	})
}

func testScanPaging(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 250
	err := s.Update(ctx, func(tx Txn) error {
		for i := range n {
			if err := tx.Set(TagKey("repo", fmt.Sprintf("t%04d", i)), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Walk in pages of 7 using only the last key of each page, as the
	// tags/list handler does.
	var got []string
	after := ""
	for {
		var page []string
		err := s.View(ctx, func(r Reader) error {
			return r.Scan(TagPrefix("repo"), []byte(after), func(k, v []byte) error {
				tag := Suffix(k, TagPrefix("repo"))
				if want := fmt.Sprintf("t%04d", int(v[0])); v[0] != byte(len(got)+len(page)) && tag[:4] != want[:4] {
					return fmt.Errorf("value %d under %s", v[0], tag)
				}
				page = append(page, tag)
				if len(page) == 7 {
					return ErrStop
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
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

// The '@' separator keeps repository "a" from seeing the keys of "a/b" or
// "ab".
func testPrefixIsolation(t *testing.T, s Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx Txn) error {
		for _, repo := range []string{"a", "a/b", "ab", "a-b"} {
			if err := tx.Set(TagKey(repo, "latest"), []byte(repo)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"a", "a/b", "ab", "a-b"} {
		var vals [][]byte
		_ = s.View(ctx, func(r Reader) error {
			return r.Scan(TagPrefix(repo), nil, func(_, v []byte) error {
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
func testConflictRetry(t *testing.T, s Store) {
	ctx := context.Background()
	k := BlobKey("sha256:counter")
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- s.Update(ctx, func(tx Txn) error {
					rec := BlobRecord{}
					if v, err := tx.Get(k); err == nil {
						if rec, err = DecodeBlob(v); err != nil {
							return err
						}
					} else if !errors.Is(err, ErrNotFound) {
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
	_ = s.View(ctx, func(r Reader) error {
		v, err := r.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := DecodeBlob(v)
		if rec.Size != workers*each {
			t.Errorf("counter = %d, want %d: an increment was lost", rec.Size, workers*each)
		}
		return nil
	})
}

func testErrorRollsBack(t *testing.T, s Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx Txn) error {
		if err := tx.Set(RepoKey("x"), RepoRecord{Created: 1}.Encode()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = s.View(ctx, func(r Reader) error {
		if ok, _ := r.Has(RepoKey("x")); ok {
			t.Error("a failed Update left a write behind")
		}
		return nil
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := ManifestRecord{MediaType: "application/vnd.oci.image.manifest.v1+json", Subject: "sha256:s", Created: 42, Payload: []byte(`{"schemaVersion":2}`)}
	if err := s.Update(context.Background(), func(tx Txn) error { return tx.Set(ManifestKey("r", "sha256:m"), want.Encode()) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(context.Background(), func(r Reader) error {
		v, err := r.Get(ManifestKey("r", "sha256:m"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeManifest(v)
		if err != nil || got.MediaType != want.MediaType || got.Subject != want.Subject || got.Created != 42 || string(got.Payload) != string(want.Payload) {
			t.Errorf("after reopen: %+v, %v", got, err)
		}
		return nil
	})
}

func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	src, _ := Open(Options{InMemory: true})
	defer src.Close()
	_ = src.Update(ctx, func(tx Txn) error {
		for i := range 100 {
			if err := tx.Set(RepoKey(fmt.Sprintf("r%03d", i)), RepoRecord{Created: int64(i)}.Encode()); err != nil {
				return err
			}
		}
		return nil
	})
	var buf bytes.Buffer
	if err := src.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := Open(Options{Dir: t.TempDir()})
	defer dst.Close()
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = dst.View(ctx, func(r Reader) error {
		return r.ScanKeys(RepoPrefix(), nil, func([]byte) error { n++; return nil })
	})
	if n != 100 {
		t.Errorf("restored %d repositories, want 100", n)
	}
}

func TestSchemaVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(Options{Dir: dir})
	_ = s.Update(context.Background(), func(tx Txn) error { return tx.Set(SchemaKey(), []byte{99}) })
	_ = s.Close()
	if s, err := Open(Options{Dir: dir}); err == nil {
		_ = s.Close()
		t.Fatal("opened data of an unknown schema version")
	}
}

// TestLargestTransaction commits what the engine's largest transaction
// holds: a manifest at the 4 MiB limit, and more small keys than a GC
// chunk. It guards the memtable size (Badger refuses a transaction over
// 15 % of a memtable) on the on-disk store, where values over the
// threshold go to the value log; the in-memory store (tests only) refuses
// values over 64 KiB.
func TestLargestTransaction(t *testing.T) {
	s := openers["badger-disk"](t)
	manifest := bytes.Repeat([]byte("m"), 4<<20)
	err := s.Update(context.Background(), func(tx Txn) error {
		if err := tx.Set([]byte("m/big"), manifest); err != nil {
			return err
		}
		for i := range 512 {
			if err := tx.Set(fmt.Appendf(nil, "k/%04d", i), bytes.Repeat([]byte("v"), 128)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a 4 MiB manifest and 512 keys in one transaction: %v", err)
	}
	var got []byte
	if err := s.View(context.Background(), func(r Reader) (err error) { got, err = r.Get([]byte("m/big")); return err }); err != nil || !bytes.Equal(got, manifest) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
}

// testBarrier counts Waits and runs check, if set, inside each.
type testBarrier struct {
	mu    sync.Mutex
	waits int
	check func() error
}

func (b *testBarrier) Wait() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waits++
	if b.check != nil {
		return b.check()
	}
	return nil
}

// TestUpdateWaitsOnBarrier checks that with a barrier Update returns only
// after a Wait that began once the commit was applied, that a failed
// transaction does not wait, and that the barrier's error is Update's.
func TestUpdateWaitsOnBarrier(t *testing.T) {
	b := &testBarrier{}
	s, err := Open(Options{Dir: t.TempDir(), Barrier: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.check = func() error {
		return s.View(ctx, func(r Reader) error {
			_, err := r.Get([]byte("k"))
			return err
		})
	}
	base := b.waits // the schema record's commit at Open
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("Update: %v (the barrier ran before the commit was visible?)", err)
	}
	if b.waits != base+1 {
		t.Fatalf("%d waits for one commit", b.waits-base)
	}
	failed := errors.New("no")
	if err := s.Update(ctx, func(Txn) error { return failed }); !errors.Is(err, failed) || b.waits != base+1 {
		t.Fatalf("failed transaction: err %v, %d waits", err, b.waits-base)
	}
	eio := errors.New("disk gone")
	b.check = func() error { return eio }
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set([]byte("k2"), nil) }); !errors.Is(err, eio) {
		t.Fatalf("Update with a failing barrier = %v", err)
	}
}

// TestUpdateUnsynced checks that UpdateUnsynced commits without a wait on
// the barrier (even a failing one), that the commit is visible at once,
// and that a clean close keeps it.
func TestUpdateUnsynced(t *testing.T) {
	dir := t.TempDir()
	b := &testBarrier{}
	s, err := Open(Options{Dir: dir, Barrier: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b.check = func() error { return errors.New("must not be waited on") }
	base := b.waits
	if err := s.UpdateUnsynced(ctx, func(tx Txn) error { return tx.Set([]byte("u"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if b.waits != base {
		t.Fatalf("%d waits on the barrier", b.waits-base)
	}
	if err := s.View(ctx, func(r Reader) error { _, err := r.Get([]byte("u")); return err }); err != nil {
		t.Fatalf("unsynced commit not visible: %v", err)
	}
	b.check = nil
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(r Reader) error { _, err := r.Get([]byte("u")); return err }); err != nil {
		t.Fatalf("unsynced commit lost by a clean close: %v", err)
	}
}
