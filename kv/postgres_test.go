package kv_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestPostgresSchema checks what OpenPostgres does to a database: several
// processes starting at once on an empty one create the schema once; data
// survives a reopen; a database migrated by a newer build is refused.
func TestPostgresSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: dsn, MaxConns: 2})
			if err == nil {
				err = s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte{'k', byte(i)}, []byte("v")) })
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open %d: %v", i, err)
		}
	}
	s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.View(ctx, func(r kv.Reader) error {
		return r.ScanKeys([]byte("k"), nil, func([]byte) error { n++; return nil })
	}); err != nil || n != 4 {
		t.Fatalf("after reopening: %d keys, %v", n, err)
	}
	_ = s.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("schema_version has %d rows, %v", rows, err)
	}
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("opened a database of a newer schema: %v", err)
	}
	// The keyspace's own version is checked too, as on Badger.
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = version - 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE kv SET v = '\x63'::bytea WHERE k = $1`, kv.SchemaKey()); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: dsn}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("opened a keyspace of an unknown version: %v", err)
	}
}

// A DSN that does not parse is refused without repeating it (it may hold
// a password).
func TestPostgresBadDSN(t *testing.T) {
	_, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: "postgres://mcr:s3cret@db:port/x"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad DSN: %v", err)
	}
}

// Restore refuses a database that holds data, and a stream that breaks off
// leaves the database as it was (one transaction).
func TestPostgresRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: pgtest.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx, bytes.NewReader(buf.Bytes())); !errors.Is(err, kv.ErrNotEmpty) {
		t.Fatalf("restore into a database with data: %v", err)
	}

	fresh, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: pgtest.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Restore(ctx, bytes.NewReader(buf.Bytes()[:buf.Len()-3])); err == nil {
		t.Fatal("a truncated backup restored")
	}
	n := 0
	if err := fresh.View(ctx, func(r kv.Reader) error {
		return r.ScanKeys(nil, nil, func(k []byte) error { n++; return nil })
	}); err != nil || n != 1 {
		t.Fatalf("after a failed restore: %d keys (want the schema key alone), %v", n, err)
	}
	if err := fresh.Restore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("restore after a failed one: %v", err)
	}
}

// With PostgreSQL stopped, reads and writes fail with ErrUnavailable
// (bounded by their context, never a hang), a write that failed left
// nothing, and the same store works again once the server is back: the
// pool reconnects by itself.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.Private(t)
	ctx := context.Background()
	db, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: srv.DSN(db)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(ctx context.Context, k string) error {
		return s.Update(ctx, func(tx kv.Txn) error { return tx.Set([]byte(k), []byte("v")) })
	}
	get := func(ctx context.Context, k string) error {
		return s.View(ctx, func(r kv.Reader) error { _, err := r.Get([]byte(k)); return err })
	}
	if err := put(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Halt(); err != nil {
		t.Fatal(err)
	}
	for _, op := range []func(context.Context) error{
		func(ctx context.Context) error { return put(ctx, "during") },
		func(ctx context.Context) error { return get(ctx, "before") },
	} {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := op(octx)
		cancel()
		if !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("during the outage: %v; want ErrUnavailable (refused at once, not the context's deadline)", err)
		}
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for err := get(ctx, "before"); err != nil; err = get(ctx, "before") {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not come back in 30s after the server: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling the store, with a deadline
	}
	if err := get(ctx, "during"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("a write refused during the outage: %v, want ErrNotFound", err)
	}
	if err := put(ctx, "after"); err != nil {
		t.Fatal(err)
	}
}
