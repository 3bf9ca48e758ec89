package kv_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestPostgresWatchAcrossStores checks change notification between two
// stores on one database, as between two replicas: a publish on one
// reaches the other's watcher; a change whose notification is lost (the
// generation moved with no NOTIFY) is found by the poll within its
// interval; when the listener's connection is killed, it reconnects and
// asks its watchers to resync.
func TestPostgresWatchAcrossStores(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	open := func() *kv.Postgres {
		s, err := kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: dsn, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	heard := make(chan string, 64)
	stop := b.Watch(func(topic string) { heard <- topic })
	defer stop()
	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case got := <-heard:
				if got == want {
					return
				}
			case <-deadline:
				t.Fatalf("%q not heard within %s", want, within)
			}
		}
	}
	expect("", 5*time.Second) // the first connection resyncs

	start := time.Now()
	if err := a.Update(ctx, func(t kv.Txn) error { return kv.Publish(t, "policy") }); err != nil {
		t.Fatal(err)
	}
	expect("policy", time.Second)
	t.Logf("notification across stores: %s", time.Since(start))

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A lost notification: the generation moves, nothing is announced.
	if _, err := conn.Exec(ctx, `UPDATE kv SET v = $1 WHERE k = $2`, binary.AppendUvarint(nil, 7), kv.TopicKey("policy")); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	expect("policy", time.Second)
	t.Logf("change without notification found by the poll: %s", time.Since(start))

	// Kill the listener's session: it reconnects and resyncs.
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, kv.ListenerName).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminating the listener: %d sessions, %v", killed, err)
	}
	expect("", 5*time.Second)
	if err := a.Update(ctx, func(t kv.Txn) error { return kv.Publish(t, "accounts") }); err != nil {
		t.Fatal(err)
	}
	expect("accounts", time.Second)
}
