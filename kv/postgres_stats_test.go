package kv

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestPostgresStats checks the counters /metrics exposes: a read-only
// transaction of one Get is three statements in three round trips
// (BEGIN, SELECT, ROLLBACK); a batch is one round trip however many
// statements it holds; and the pool reports its size and its waits.
func TestPostgresStats(t *testing.T) {
	ctx := context.Background()
	s, err := OpenPostgres(ctx, PostgresOptions{DSN: pgtest.Database(t), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx Txn) error { return tx.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	if before.Statements < 3 || before.RoundTrips < 3 || before.Statements < before.RoundTrips {
		t.Fatalf("after an opening and an update: %+v", before)
	}
	if err := s.View(ctx, func(r Reader) error { _, err := r.Get([]byte("k")); return err }); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if d, rt := after.Statements-before.Statements, after.RoundTrips-before.RoundTrips; d != 3 || rt != 3 {
		t.Errorf("a View of one Get counted %d statements in %d round trips; want 3 in 3", d, rt)
	}
	b := &pgx.Batch{}
	for range 4 {
		b.Queue(`SELECT 1`)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	batched := s.Stats()
	if d, rt := batched.Statements-after.Statements, batched.RoundTrips-after.RoundTrips; d != 4 || rt != 1 {
		t.Errorf("a batch of 4 counted %d statements in %d round trips; want 4 in 1", d, rt)
	}
	// The first acquisition found the pool empty: it opened a connection.
	if batched.MaxConns != 2 || batched.Conns < 1 || batched.EmptyAcquires < 1 {
		t.Errorf("pool: %+v; want max 2, at least one connection, at least one empty acquisition", batched)
	}
}

// TestPostgresSerializationFailuresCounted makes the first attempt of an
// Update lose a read-modify-write race (another transaction rewrites the
// key it read before it writes): PostgreSQL aborts it, Update runs it
// again, and the counter says so once per aborted attempt.
func TestPostgresSerializationFailuresCounted(t *testing.T) {
	ctx := context.Background()
	s, err := OpenPostgres(ctx, PostgresOptions{DSN: pgtest.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := []byte("n")
	before := s.Stats().SerializationFailures
	attempts := 0
	err = s.Update(ctx, func(tx Txn) error {
		attempts++
		v, err := tx.Get(key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if attempts == 1 {
			if err := s.Update(ctx, func(other Txn) error { return other.Set(key, []byte("other")) }); err != nil {
				return err
			}
		}
		return tx.Set(key, append(v, 'x'))
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts < 2 {
		t.Fatalf("the racing write did not abort the first attempt (%d attempt)", attempts)
	}
	if got := s.Stats().SerializationFailures - before; got != uint64(attempts-1) {
		t.Errorf("counted %d serialization failures for %d aborted attempts", got, attempts-1)
	}
}
