package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

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
	if err := dst.Restore(ctx, &buf); err != nil {
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

// A transaction larger than Badger commits at once fails with the port's
// ErrTooLarge (a 413 for the request that built it), and nothing of it is
// stored; one of the same records at a time still commits.
func TestTransactionTooLarge(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	err = s.Update(ctx, func(tx Txn) error {
		for i := range 20_000 {
			if err := tx.Set(TagKey("r", fmt.Sprintf("t%05d", i)), []byte("sha256:m")); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("20 000 records in one transaction: %v, want ErrTooLarge", err)
	}
	if err := s.View(ctx, func(r Reader) error { _, err := r.Get(TagKey("r", "t00000")); return err }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a record of the refused transaction: %v, want ErrNotFound", err)
	}
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set(TagKey("r", "t00000"), []byte("sha256:m")) }); err != nil {
		t.Fatal(err)
	}
}
