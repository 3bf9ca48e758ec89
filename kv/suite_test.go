package kv_test

import (
	"context"
	"os"
	"testing"

	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/kvtest"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// closing registers the store's Close with t. Close after Close is fine
// (the Closed test closes its store itself).
func closing(t *testing.T, s kv.Store, err error) kv.Store {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBadgerMemory(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := kv.Open(kv.Options{InMemory: true})
		return closing(t, s, err)
	}, kvtest.Options{MaxValue: 32 << 10}) // in memory, values at the 64 KiB threshold would need a value log
}

func TestBadgerDisk(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := kv.Open(kv.Options{Dir: t.TempDir()})
		return closing(t, s, err)
	}, kvtest.Options{})
}

func TestBadgerDiskGroupSync(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := kv.Open(kv.Options{Dir: t.TempDir(), GroupSync: true})
		return closing(t, s, err)
	}, kvtest.Options{})
}

func TestPostgres(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: pgtest.Database(t)})
		return closing(t, s, err)
	}, kvtest.Options{})
}

// A backup of either store restores into the other: one format.
func TestBackupAcrossStores(t *testing.T) {
	badger := func(t *testing.T) kv.Store {
		s, err := kv.Open(kv.Options{Dir: t.TempDir()})
		return closing(t, s, err)
	}
	postgres := func(t *testing.T) kv.Store {
		s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: pgtest.Database(t)})
		return closing(t, s, err)
	}
	t.Run("badger-to-postgres", func(t *testing.T) { kvtest.BackupRestore(t, badger, postgres, kvtest.Options{}) })
	t.Run("postgres-to-badger", func(t *testing.T) { kvtest.BackupRestore(t, postgres, badger, kvtest.Options{}) })
}
