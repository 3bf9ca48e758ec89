package kv_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

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
