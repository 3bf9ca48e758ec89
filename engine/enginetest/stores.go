package enginetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Stores are a Badger store under <Dir>/meta and a blob store in Dir,
// laid out as mcrsrv serve lays out its data directory.
type Stores struct {
	Dir   string
	KV    *kv.Badger
	Blobs *blobstore.FS
	// Barrier is the blob store's group-commit barrier, or nil where the
	// platform has no filesystem sync; the metadata store then fsyncs
	// each commit, and otherwise group-commits its own logs (as mcrsrv
	// serve opens them).
	Barrier *blobstore.Barrier

	once sync.Once
}

// Open opens the stores in dir (a fresh temporary directory when dir is
// ""). They are closed when the test ends, after the cleanups registered
// later (a registry over them closes first).
func Open(t testing.TB, dir string) *Stores {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Stores{Dir: dir, Barrier: Barrier(t, dir)}
	var err error
	if s.KV, err = kv.Open(kv.Options{Dir: filepath.Join(dir, "meta"), GroupSync: s.Barrier != nil}); err != nil {
		t.Fatal(err)
	}
	if s.Blobs, err = blobstore.Open(dir, s.Barrier); err != nil {
		_ = s.KV.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Close closes the metadata store and the barrier; a test that reopens
// the directory (a restart) calls it first. Calls after the first do
// nothing.
func (s *Stores) Close() error {
	var err error
	s.once.Do(func() {
		err = s.KV.Close()
		if s.Barrier != nil {
			err = errors.Join(err, s.Barrier.Close())
		}
	})
	return err
}

// Barrier returns a group-commit barrier over dir, closed when the test
// ends, or nil where the platform has no filesystem sync (the stores then
// fsync each file, as mcrsrv serve does there).
func Barrier(t testing.TB, dir string) *blobstore.Barrier {
	t.Helper()
	b, err := blobstore.NewBarrier(dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Memory is an in-memory Badger store (real Badger, nothing on disk),
// closed when the test ends.
func Memory(t testing.TB) *kv.Badger {
	t.Helper()
	s, err := kv.Open(kv.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Postgres is a PostgreSQL store on dsn (a kv/pgtest database; the stores
// of one test that play replicas share it), with a pool of at most
// maxConns connections (0: kv's default), closed when the test ends,
// after the cleanups registered later (a registry over it closes first).
func Postgres(t testing.TB, dsn string, maxConns int32) *kv.Postgres {
	t.Helper()
	s, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: dsn, MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// StagingFiles lists the files in dir's uploads directory, where uploads
// stage in a data directory laid out as mcrsrv serve lays it out.
func StagingFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
