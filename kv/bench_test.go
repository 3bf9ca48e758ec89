package kv

import (
	"context"
	"fmt"
	"testing"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// benchStore opens an on-disk Badger store (synced commits, as served) and
// writes n tags of one repository plus the repository record.
func benchStore(b *testing.B, repo string, n int) Store {
	b.Helper()
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	return fillBench(b, s, repo, n)
}

// benchPostgres is benchStore on a fresh PostgreSQL database (pgtest).
func benchPostgres(b *testing.B, repo string, n int) Store {
	b.Helper()
	s, err := OpenPostgres(context.Background(), PostgresOptions{DSN: pgtest.Database(b)})
	if err != nil {
		b.Fatal(err)
	}
	return fillBench(b, s, repo, n)
}

func fillBench(b *testing.B, s Store, repo string, n int) Store {
	b.Helper()
	b.Cleanup(func() { _ = s.Close() })
	const batch = 5000
	for lo := 0; lo < n; lo += batch {
		err := s.Update(context.Background(), func(t Txn) error {
			for i := lo; i < min(lo+batch, n); i++ {
				if err := t.Set(TagKey(repo, fmt.Sprintf("t%06d", i)), []byte("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")); err != nil {
					return err
				}
			}
			return t.Set(RepoKey(repo), RepoRecord{Created: 1}.Encode())
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkTagLookup is the point read behind a manifest GET by tag: one
// read-only snapshot, one Get of t/<repo>@<tag>.
func BenchmarkTagLookup(b *testing.B) { benchLookup(b, benchStore(b, "bench/lookup", 1000)) }

// BenchmarkPostgres is BenchmarkTagLookup and BenchmarkScanKeys on
// PostgreSQL: every View is a round trip to begin, one per query (a scan
// pages by 1024 keys) and one to end.
func BenchmarkPostgres(b *testing.B) {
	b.Run("TagLookup", func(b *testing.B) { benchLookup(b, benchPostgres(b, "bench/lookup", 1000)) })
	b.Run("ScanKeys", func(b *testing.B) { benchScan(b, benchPostgres(b, "bench/scan", 10000)) })
}

func benchLookup(b *testing.B, s Store) {
	ctx := context.Background()
	key := TagKey("bench/lookup", "t000500")
	b.ReportAllocs()
	for b.Loop() {
		err := s.View(ctx, func(t Reader) error {
			_, err := t.Get(key)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanKeys walks the keys of a 10 000-tag repository, whole and a
// page of 100 after a seek: the storage cost of a tag listing.
func BenchmarkScanKeys(b *testing.B) { benchScan(b, benchStore(b, "bench/scan", 10000)) }

func benchScan(b *testing.B, s Store) {
	const n = 10000
	ctx := context.Background()
	prefix := TagPrefix("bench/scan")
	walk := func(b *testing.B, after []byte, limit int) {
		b.ReportAllocs()
		for b.Loop() {
			got := 0
			err := s.View(ctx, func(t Reader) error {
				return t.ScanKeys(prefix, after, func([]byte) error {
					if got++; got == limit {
						return ErrStop
					}
					return nil
				})
			})
			if err != nil || got != limit {
				b.Fatalf("%d keys, %v", got, err)
			}
		}
	}
	b.Run("full", func(b *testing.B) { walk(b, nil, n) })
	b.Run("page100", func(b *testing.B) { walk(b, []byte("t005000"), 100) })
}
