package kv

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"testing"
)

// TestDiskUsageAllocated checks that the store's size is what its files
// occupy: a fresh store has a 2 GiB (sparse) value log but uses a few MiB,
// and a large value written to the value log shows up in ValueLog.
func TestDiskUsageAllocated(t *testing.T) {
	dir := t.TempDir()
	s := openBadger(t, Options{Dir: dir})

	var apparent int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				apparent += fi.Size()
			}
		}
		return nil
	})
	before, err := s.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh store: apparent %d bytes, allocated %+v (total %d)", apparent, before, before.Total())
	if apparent < 1<<30 {
		t.Fatalf("apparent size %d: expected Badger's preallocated value log (this test relies on it being sparse)", apparent)
	}
	if before.Total() <= 0 || before.Total() > 64<<20 {
		t.Fatalf("allocated total %d: want a few MiB, not the apparent %d", before.Total(), apparent)
	}

	big := bytes.Repeat([]byte("m"), 1<<20) // over the 64 KiB value threshold: the value log
	if err := s.Update(context.Background(), func(tx Txn) error { return tx.Set(TagKey("a/b", "big"), big) }); err != nil {
		t.Fatal(err)
	}
	after, err := s.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	if after.ValueLog < before.ValueLog+int64(len(big)) {
		t.Errorf("value log grew from %d to %d after a %d-byte value", before.ValueLog, after.ValueLog, len(big))
	}
}

func TestDiskUsageInMemory(t *testing.T) {
	s := openBadger(t, Options{InMemory: true})
	u, err := s.DiskUsage()
	if err != nil || u.Total() != 0 {
		t.Errorf("in-memory store: %+v, %v; want 0", u, err)
	}
}
