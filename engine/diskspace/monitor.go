package diskspace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Dir is a directory mcr writes, named for reports ("data", "meta").
type Dir struct {
	Name string
	Path string
}

// Options configures a Monitor.
type Options struct {
	// Dirs are the directories to watch; two on one filesystem are
	// watched once.
	Dirs []Dir
	// MinFree and MinFreeInodes are the floors below which writes that
	// add data are refused.
	MinFree, MinFreeInodes Floor
	// FloorAtLeast is the least byte floor whatever MinFree says of a
	// small filesystem: what the metadata store may write at once (a
	// memtable flush) before the reserve is released, since such a
	// write through a memory map can fault before the next check.
	FloorAtLeast uint64
	// Hysteresis raises the byte floor of a filesystem while it is below
	// it: writes are taken again only once this much more is free. The
	// metadata store frees and takes megabytes at a time (a memtable's
	// log is deleted when it is flushed), and without it a disk at the
	// floor flips between refusing and accepting many times a second.
	Hysteresis uint64
	// ReserveDir is the metadata store's directory, which holds the
	// reserve; Reserve is its size in bytes, 0 for none. ReserveDir must
	// be one of Dirs.
	ReserveDir string
	Reserve    int64
	// Interval is how often Run samples the filesystems to release or
	// re-create the reserve; 0 is one second.
	Interval time.Duration
	// Log receives one line per crossing of a floor, either way.
	Log zerolog.Logger
}

// Status is one watched filesystem at one moment.
type Status struct {
	// Names are the watched directories on this filesystem ("data,
	// meta"); Path is the first of them.
	Names string
	Path  string
	// FreeBytes is the space usable for data: statfs's available bytes,
	// less what the reserve would hold if it were released. FloorBytes
	// is its floor on this filesystem, raised by Options.Hysteresis while
	// the filesystem is below it.
	TotalBytes, FreeBytes, FloorBytes    uint64
	TotalInodes, FreeInodes, FloorInodes uint64
	// ReserveBytes is what the reserve holds now (0 when released or
	// when there is none on this filesystem); ReserveSize its full size.
	ReserveBytes, ReserveSize uint64
}

// Below reports whether the filesystem is at or under either floor, or
// would go under it with need more bytes written. At the floor exactly
// counts as below: no write of even one byte fits there.
func (s Status) Below(need uint64) bool {
	return s.FreeBytes <= s.FloorBytes || s.FreeBytes-s.FloorBytes < need || s.FreeInodes <= s.FloorInodes
}

// Reason says in words why s is below its floors ("" when it is not).
func (s Status) Reason() string {
	switch {
	case s.FreeBytes <= s.FloorBytes:
		return fmt.Sprintf("%s filesystem has %s free, below its floor of %s", s.Names,
			humanize.IBytes(s.FreeBytes), humanize.IBytes(s.FloorBytes))
	case s.FreeInodes <= s.FloorInodes:
		return fmt.Sprintf("%s filesystem has %d free inodes, below its floor of %d", s.Names, s.FreeInodes, s.FloorInodes)
	}
	return ""
}

// filesystem is one watched filesystem.
type filesystem struct {
	names   string
	path    string
	reserve *reserve // nil unless the reserve is on this filesystem
	below   atomic.Bool
}

// Monitor watches the filesystems; see the package comment.
type Monitor struct {
	o      Options
	fss    []*filesystem
	store  *filesystem                     // ReserveDir's
	statfs func(dir string) (usage, error) // statfs(2); tests count their own
}

// New returns a monitor over o.Dirs, taking over a reserve left by an
// earlier run. It does not create the reserve: Prepare does, before the
// metadata store opens. On a platform without statfs it returns an error
// wrapping errors.ErrUnsupported.
func New(o Options) (*Monitor, error) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	m := &Monitor{o: o, statfs: statfs}
	byDev := map[uint64]*filesystem{}
	for _, d := range o.Dirs {
		dev, err := deviceOf(d.Path)
		if err != nil {
			return nil, fmt.Errorf("diskspace: %s directory %s: %w", d.Name, d.Path, err)
		}
		if fs, ok := byDev[dev]; ok {
			fs.names += ", " + d.Name
		} else {
			fs = &filesystem{names: d.Name, path: d.Path}
			byDev[dev] = fs
			m.fss = append(m.fss, fs)
		}
		if filepath.Clean(d.Path) != filepath.Clean(o.ReserveDir) {
			continue
		}
		m.store = byDev[dev]
		if o.Reserve > 0 {
			fs := m.store
			fs.reserve = &reserve{path: filepath.Join(o.ReserveDir, ReserveFile), size: o.Reserve}
			if err := fs.reserve.adopt(); err != nil {
				return nil, fmt.Errorf("diskspace: reserve: %w", err)
			}
		}
	}
	return m, nil
}

// Prepare brings every reserve to its state before the metadata store
// opens: released on a filesystem below its floor, so that Open has room
// to write its new log files, else held. It returns the statuses seen.
func (m *Monitor) Prepare() ([]Status, error) {
	return m.check()
}

// Run keeps the reserves in step with the floors until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.check(); err != nil {
				m.o.Log.Warn().Err(err).Msg("disk space check failed")
			}
		}
	}
}

// check samples every filesystem, releases the reserve of one below its
// floor and re-creates the reserve of one above it.
func (m *Monitor) check() ([]Status, error) {
	out := make([]Status, 0, len(m.fss))
	var errs []error
	for _, fs := range m.fss {
		st, err := m.sample(fs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Below(0) {
			m.crossed(fs, st)
		} else {
			m.recovered(fs, st)
			if fs.reserve != nil && st.ReserveBytes == 0 {
				if err := fs.reserve.create(); err != nil {
					errs = append(errs, fmt.Errorf("re-creating the reserve: %w", err))
				} else if st, err = m.sample(fs); err != nil {
					errs = append(errs, err)
				}
			}
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// Statuses samples every watched filesystem now.
func (m *Monitor) Statuses() ([]Status, error) {
	out := make([]Status, 0, len(m.fss))
	for _, fs := range m.fss {
		st, err := m.sample(fs)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Admit refuses, with errcode.InsufficientStorage, a write of need more
// bytes that would take any watched filesystem below a floor. It is
// called before every write that adds data and before each buffer of an
// upload's body, so a running upload stops at the floor instead of at
// ENOSPC.
func (m *Monitor) Admit(need int64) error {
	for _, fs := range m.fss {
		st, err := m.sample(fs)
		if err != nil {
			return err
		}
		if st.Below(0) {
			m.crossed(fs, st)
			return insufficient(st)
		}
		if st.Below(uint64(max(need, 0))) {
			return insufficient(st) // this write does not fit; smaller ones may
		}
	}
	return nil
}

// Below reports the first watched filesystem under a floor, if any, for
// readiness.
func (m *Monitor) Below() (Status, bool, error) {
	sts, err := m.Statuses()
	if err != nil {
		return Status{}, false, err
	}
	for _, st := range sts {
		if st.Below(0) {
			return st, true, nil
		}
	}
	return Status{}, false, nil
}

// MakeRoom gives the metadata store need bytes to write into if it can:
// when its filesystem has less available, the reserve is released (a
// restart or shutdown on a nearly full disk: Open writes new log files and
// Close flushes a memtable, both through memory maps). It returns the
// space available now; ok is false when ReserveDir is not watched.
func (m *Monitor) MakeRoom(need uint64) (free uint64, ok bool, err error) {
	fs := m.store
	if fs == nil {
		return 0, false, nil
	}
	u, err := m.statfs(fs.path)
	if err != nil || u.freeBytes >= need || fs.reserve == nil {
		return u.freeBytes, true, err
	}
	released, err := fs.reserve.release()
	if err != nil {
		return u.freeBytes, true, err
	}
	if released {
		m.o.Log.Warn().Uint64("free_bytes", u.freeBytes).Uint64("needed_bytes", need).
			Msg("disk space reserve released for the metadata store")
	}
	u, err = m.statfs(fs.path)
	return u.freeBytes, true, err
}

func (m *Monitor) sample(fs *filesystem) (Status, error) {
	u, err := m.statfs(fs.path)
	if err != nil {
		return Status{}, fmt.Errorf("diskspace: statfs %s: %w", fs.path, err)
	}
	st := Status{
		Names: fs.names, Path: fs.path,
		TotalBytes: u.totalBytes, FreeBytes: u.freeBytes, FloorBytes: max(m.o.MinFree.Of(u.totalBytes), m.o.FloorAtLeast),
		TotalInodes: u.totalInodes, FreeInodes: u.freeInodes, FloorInodes: m.o.MinFreeInodes.Of(u.totalInodes),
	}
	if fs.below.Load() {
		st.FloorBytes += m.o.Hysteresis
	}
	if r := fs.reserve; r != nil {
		held, size := r.held.Load(), r.want()
		st.ReserveBytes, st.ReserveSize = uint64(held), uint64(size)
		// A released reserve's space is free for statfs but not for data.
		st.FreeBytes -= min(st.FreeBytes, uint64(max(size-held, 0)))
	}
	return st, nil
}

// crossed is fs seen below a floor: its reserve goes to the metadata
// store at once, and the crossing is logged once.
func (m *Monitor) crossed(fs *filesystem, st Status) {
	released := false
	if fs.reserve != nil {
		var err error
		if released, err = fs.reserve.release(); err != nil {
			m.o.Log.Error().Err(err).Str("filesystem", fs.names).Msg("releasing the disk space reserve")
		}
	}
	if !fs.below.Swap(true) || released {
		m.o.Log.Warn().Str("filesystem", fs.names).Str("path", fs.path).
			Uint64("free_bytes", st.FreeBytes).Uint64("floor_bytes", st.FloorBytes).
			Uint64("free_inodes", st.FreeInodes).Uint64("floor_inodes", st.FloorInodes).
			Bool("reserve_released", released).
			Msg("storage below its floor: refusing writes that add data (507) until space is freed")
	}
}

// recovered is fs seen at or above its floors.
func (m *Monitor) recovered(fs *filesystem, st Status) {
	if fs.below.Swap(false) {
		m.o.Log.Info().Str("filesystem", fs.names).Uint64("free_bytes", st.FreeBytes).
			Uint64("floor_bytes", st.FloorBytes).Msg("storage above its floor again: accepting writes")
	}
}

func insufficient(st Status) error {
	reason := st.Reason()
	if reason == "" {
		reason = fmt.Sprintf("%s filesystem has %s free above its floor, too little for this write",
			st.Names, humanize.IBytes(st.FreeBytes-min(st.FreeBytes, st.FloorBytes)))
	}
	return errcode.New(errcode.InsufficientStorage, "registry storage is full: %s", reason).
		WithDetail(map[string]string{"filesystem": strings.ReplaceAll(st.Names, " ", "")})
}
