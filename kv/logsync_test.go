package kv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGroupSyncCoversEveryLog checks what a GroupSync commit syncs: the
// newest memtable log after every commit; an older one, left when a full
// memtable is replaced, once more after that (a commit may have landed in
// it just before), then never again; and the value log only after a
// commit that put a value there.
func TestGroupSyncCoversEveryLog(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, GroupSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var synced []string
	s.logs.datasync = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return datasync(f)
	}
	ctx := context.Background()
	set := func(key string, val []byte) []string {
		t.Helper()
		synced = nil
		if err := s.Update(ctx, func(tx Txn) error { return tx.Set([]byte(key), val) }); err != nil {
			t.Fatal(err)
		}
		return synced
	}
	logs := func(ext string) []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		slices.Sort(m)
		return m
	}

	mems := logs(".mem")
	if got := set("small", []byte("v")); !slices.Equal(got, mems[len(mems)-1:]) {
		t.Fatalf("small commit synced %v, want the newest memtable log of %v", got, mems)
	}
	vlogs := logs(".vlog")
	if got := set("large", bytes.Repeat([]byte("x"), valueThreshold)); !slices.Equal(got, []string{mems[len(mems)-1], vlogs[len(vlogs)-1]}) {
		t.Fatalf("commit of a value-log value synced %v, want the newest of %v and of %v", got, mems, vlogs)
	}

	// Fill the memtable past its size, unsynced, until Badger starts a
	// new log: the old one still holds the commits just made, until its
	// memtable is written to a table (and the log removed) in the
	// background.
	old := mems[len(mems)-1]
	val := bytes.Repeat([]byte("y"), 32<<10)
	for i := 0; slices.Max(logs(".mem")) == old; i++ {
		if i > 4*MemTableSize/len(val) {
			t.Fatalf("no new memtable log after %d values: %v", i, logs(".mem"))
		}
		if err := s.UpdateUnsynced(ctx, func(tx Txn) error { return tx.Set(fmt.Appendf(nil, "fill/%d", i), val) }); err != nil {
			t.Fatal(err)
		}
	}
	newest := slices.Max(logs(".mem"))
	got := set("after", []byte("v"))
	_, err = os.Stat(filepath.Join(dir, old))
	if !slices.Contains(got, newest) || (err == nil && !slices.Contains(got, old)) || slices.Contains(got, logs(".vlog")[0]) {
		t.Fatalf("first commit after the new log synced %v, want %s (newest) and %s (left, unless removed: %v), no value log", got, newest, old, err)
	}
	if got := set("again", []byte("v")); !slices.Equal(got, []string{newest}) {
		t.Fatalf("next commit synced %v, want only %s", got, newest)
	}
}
