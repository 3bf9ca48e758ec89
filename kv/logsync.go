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
// The directory is listed again only when a file appeared in it or left
// it since the last listing (dirWatch, logwatch_linux.go); between
// rotations a sync is one fdatasync of the newest memtable log.
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
	// watch reports changes to the directory; nil: list on every sync.
	watch *dirWatch
	// mems and vlogs are the logs of the last listing, oldest first;
	// listed says they are current (until watch reports a change).
	mems, vlogs []string
	listed      bool
	// datasync is the sync of one file, readDir the listing; tests
	// record the files and count the listings here.
	datasync func(*os.File) error
	readDir  func(string) ([]os.DirEntry, error)
}

func newLogSync(dir string) *logSync {
	l := &logSync{dir: dir, sealed: map[string]bool{}, open: map[string]*os.File{}, datasync: datasync, readDir: os.ReadDir}
	if w, err := watchDir(dir); err == nil {
		l.watch = w
	}
	return l
}

// sync makes every commit applied before it durable.
func (l *logSync) sync() error {
	// The watch is drained before the listing: a log created after it
	// leaves an event for the next sync.
	if !l.listed || l.watch == nil || l.watch.changed() {
		if err := l.list(); err != nil {
			return err
		}
	}
	err := l.syncLogs(l.mems)
	if l.vlog.Swap(false) {
		err = errors.Join(err, l.syncLogs(l.vlogs))
	}
	return err
}

// list reads the directory's logs into mems and vlogs.
func (l *logSync) list() error {
	l.listed = false
	entries, err := l.readDir(l.dir)
	if err != nil {
		return err
	}
	l.mems, l.vlogs = l.mems[:0], l.vlogs[:0]
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".mem":
			l.mems = append(l.mems, e.Name())
		case ".vlog":
			l.vlogs = append(l.vlogs, e.Name())
		}
	}
	// Badger names logs by a zero-padded number: order by length, then
	// name, is the numeric order even past the padding.
	for _, names := range [][]string{l.mems, l.vlogs} {
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
		})
	}
	l.forget(l.mems, l.vlogs)
	l.listed = true
	return nil
}

// syncLogs syncs the newest of one kind of logs (names, oldest first) and
// the older ones not synced since a newer one appeared.
func (l *logSync) syncLogs(names []string) error {
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

// close releases the logs kept open and the watch.
func (l *logSync) close() {
	for n, f := range l.open {
		_ = f.Close()
		delete(l.open, n)
	}
	if l.watch != nil {
		l.watch.close()
		l.watch = nil
	}
}
