package kv

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
)

// logSync makes Badger's commits durable by syncing Badger's own logs, the
// only files a commit writes (Options.GroupSync): each memtable's
// write-ahead log (<fid>.mem) and, when a commit put a value over the
// value threshold there, the value log (<fid>.vlog). Everything else
// Badger writes (tables, the manifest) it syncs itself. Unlike a sync of
// the whole filesystem, this writes nothing of other writers' files (an
// upload's staging, another program's) and walks no other dirty pages.
//
// Badger writes its logs through memory maps and, without SyncWrites,
// syncs none of them: not the live ones, and not one it leaves for a
// newer one (a full memtable waiting for its flush to a table, a full
// value log). A commit may land in a log that a newer one replaces
// before the commit's waiter syncs, so a sync covers, of each kind, the
// newest log and every older one not yet synced since a newer one
// appeared: once a newer log exists, Badger writes no more to the older
// one, so one sync after that moment covers it for good.
//
// Syncs run one at a time (flush.Group), so the maps need no lock.
type logSync struct {
	dir string
	// vlog is set after a commit that wrote to the value log, and taken
	// by the next sync: a value log nobody wrote needs no sync, and
	// each sync of a clean file still costs the disk a cache flush.
	vlog   atomic.Bool
	sealed map[string]bool     // older logs synced since a newer appeared
	open   map[string]*os.File // the newest logs, kept open between syncs
	// datasync is the sync of one file; tests record the files here.
	datasync func(*os.File) error
}

func newLogSync(dir string) *logSync {
	return &logSync{dir: dir, sealed: map[string]bool{}, open: map[string]*os.File{}, datasync: datasync}
}

// sync makes every commit applied before it durable.
func (l *logSync) sync() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var mems, vlogs []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".mem":
			mems = append(mems, e.Name())
		case ".vlog":
			vlogs = append(vlogs, e.Name())
		}
	}
	err = l.syncLogs(mems)
	if l.vlog.Swap(false) {
		err = errors.Join(err, l.syncLogs(vlogs))
	}
	l.forget(mems, vlogs)
	return err
}

// syncLogs syncs the newest of one kind of logs and the older ones not
// synced since a newer one appeared.
func (l *logSync) syncLogs(names []string) error {
	// Badger names logs by a zero-padded number: order by length, then
	// name, is the numeric order even past the padding.
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	for i, name := range names {
		newest := i == len(names)-1
		if !newest && l.sealed[name] {
			continue
		}
		if err := l.syncFile(name, newest); err != nil {
			return err
		}
		if !newest {
			l.sealed[name] = true
		}
	}
	return nil
}

// syncFile syncs one log, keeping it open if it is the newest (it will be
// synced again). A log Badger removed meanwhile needs nothing: a memtable's
// log goes only once its table is written and synced, a value log only
// once value-log GC moved what it held.
func (l *logSync) syncFile(name string, keep bool) error {
	f := l.open[name]
	if f == nil {
		var err error
		if f, err = os.Open(filepath.Join(l.dir, name)); errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if keep {
			l.open[name] = f
		}
	}
	err := l.datasync(f)
	if !keep {
		delete(l.open, name)
		err = errors.Join(err, f.Close())
	}
	return err
}

// forget drops what it remembers of logs no longer listed.
func (l *logSync) forget(lists ...[]string) {
	listed := map[string]bool{}
	for _, names := range lists {
		for _, n := range names {
			listed[n] = true
		}
	}
	for n := range l.sealed {
		if !listed[n] {
			delete(l.sealed, n)
		}
	}
	for n, f := range l.open {
		if !listed[n] {
			_ = f.Close()
			delete(l.open, n)
		}
	}
}

// close releases the logs kept open.
func (l *logSync) close() {
	for n, f := range l.open {
		_ = f.Close()
		delete(l.open, n)
	}
}
