package kv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// TestLogSyncListsOnChange checks that a sync lists Badger's directory
// only after a file appeared in it or left it, and syncs the same logs as
// listing every time: a log created or renamed into place is found by the
// next sync, a removed one forgotten.
func TestLogSyncListsOnChange(t *testing.T) {
	for _, watched := range []bool{true, false} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			dir := t.TempDir()
			touch := func(name string) { touchIn(t, dir, name) }
			touch("000001.mem")
			touch("000001.vlog")
			l := newLogSync(dir)
			defer l.close()
			if !watched && l.watch != nil {
				l.watch.close()
				l.watch = nil
			} else if watched && l.watch == nil && runtime.GOOS == "linux" {
				t.Fatal("no directory watch on linux")
			}
			listings := 0
			l.readDir = func(d string) ([]os.DirEntry, error) {
				listings++
				return os.ReadDir(d)
			}
			var synced []string
			l.datasync = func(f *os.File) error {
				synced = append(synced, filepath.Base(f.Name()))
				return nil
			}
			steps := []struct {
				change  func()
				synced  []string
				listing bool // a watched sync lists the directory
			}{
				{nil, []string{"000001.mem"}, true},
				{nil, []string{"000001.mem"}, false},
				{func() { touch("000002.mem") }, []string{"000001.mem", "000002.mem"}, true},
				{nil, []string{"000002.mem"}, false},
				{func() { _ = os.Remove(filepath.Join(dir, "000001.mem")) }, []string{"000002.mem"}, true},
				{func() {
					touch("next.tmp")
					_ = os.Rename(filepath.Join(dir, "next.tmp"), filepath.Join(dir, "000003.mem"))
				}, []string{"000002.mem", "000003.mem"}, true},
				{func() { l.vlog.Store(true) }, []string{"000003.mem", "000001.vlog"}, false},
			}
			for i, st := range steps {
				if st.change != nil {
					st.change()
				}
				synced, listings = nil, 0
				if err := l.sync(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(synced, st.synced) {
					t.Fatalf("step %d synced %v, want %v", i, synced, st.synced)
				}
				if want := !watched || st.listing; (listings == 1) != want || listings > 1 {
					t.Fatalf("step %d listed the directory %d times, want a listing: %v", i, listings, want)
				}
			}
		})
	}
}

// TestLogSyncDirectoryReplaced checks that a sync keeps finding new logs
// after the watched directory was moved away and another created at its
// path, which sends the watch no more events: from then on every sync
// lists.
func TestLogSyncDirectoryReplaced(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "meta")
	touch := func(name string) { touchIn(t, dir, name) }
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	touch("000001.mem")
	l := newLogSync(dir)
	defer l.close()
	var synced []string
	l.datasync = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return nil
	}
	sync := func(want ...string) {
		t.Helper()
		synced = nil
		if err := l.sync(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(synced, want) {
			t.Fatalf("synced %v, want %v", synced, want)
		}
	}
	sync("000001.mem")
	if err := os.Rename(dir, filepath.Join(parent, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	touch("000005.mem")
	sync("000005.mem")
	touch("000006.mem")
	sync("000005.mem", "000006.mem")
}

// touchIn creates an empty file name in dir, as Badger creates a log.
func touchIn(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
