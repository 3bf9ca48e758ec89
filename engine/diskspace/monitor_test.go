package diskspace

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

const mib = 1 << 20

// fakeDisk is a filesystem of total bytes of which used are taken by
// data; the reserve file, when present in dir, takes its size on top.
type fakeDisk struct {
	dir         string
	total       uint64
	used        atomic.Uint64
	inodesFree  atomic.Uint64
	totalInodes uint64
}

func (d *fakeDisk) statfs(string) (usage, error) {
	used := d.used.Load()
	if fi, err := os.Stat(filepath.Join(d.dir, ReserveFile)); err == nil {
		used += uint64(fi.Size())
	}
	return usage{totalBytes: d.total, freeBytes: d.total - min(used, d.total),
		totalInodes: d.totalInodes, freeInodes: d.inodesFree.Load()}, nil
}

func newTestMonitor(t *testing.T, reserve int64) (*Monitor, *fakeDisk) {
	t.Helper()
	dir := t.TempDir()
	d := &fakeDisk{dir: dir, total: 1000 * mib, totalInodes: 100000}
	d.inodesFree.Store(90000)
	m, err := New(Options{
		Dirs:    []Dir{{Name: "data", Path: dir}, {Name: "meta", Path: dir}},
		MinFree: Floor{Percent: 2, Amount: 1 << 30}, MinFreeInodes: Floor{Percent: 1, Amount: 10000},
		ReserveDir: dir, Reserve: reserve, Hysteresis: 8 * mib, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.statfs = d.statfs
	return m, d
}

func TestMonitorFloorsAndReserve(t *testing.T) {
	m, d := newTestMonitor(t, 64*mib)
	sts, err := m.Prepare()
	if err != nil || len(sts) != 1 {
		t.Fatalf("prepare: %+v %v (one filesystem holds both directories)", sts, err)
	}
	st := sts[0]
	// 2 % of 1000 MiB is under 1 GiB: the floor is 20 MiB.
	if st.Names != "data, meta" || st.FloorBytes != 20*mib || st.FloorInodes != 1000 || st.ReserveBytes != 64*mib {
		t.Fatalf("status %+v", st)
	}
	if st.FreeBytes != 1000*mib-64*mib {
		t.Fatalf("free %d: the held reserve is not free", st.FreeBytes)
	}
	if err := m.Admit(900 * mib); err != nil {
		t.Fatalf("900 MiB of 936 free above a 20 MiB floor refused: %v", err)
	}
	if err := m.Admit(917 * mib); errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Fatalf("917 MiB would cross the floor; got %v", err)
	}

	// Data fills the disk to 10 MiB above the floor, then past it.
	d.used.Store(1000*mib - 64*mib - 30*mib)
	if err := m.Admit(0); err != nil {
		t.Fatalf("above the floor: %v", err)
	}
	d.used.Add(15 * mib)
	err = m.Admit(0)
	if errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Fatalf("below the floor: %v", err)
	}
	var e *errcode.Error
	if !errors.As(err, &e) || e.Message != "registry storage is full: data, meta filesystem has 15 MiB free, below its floor of 20 MiB" {
		t.Errorf("message %q", e.Message)
	}
	// Crossing released the reserve, and usable space did not change.
	if _, err := os.Stat(filepath.Join(d.dir, ReserveFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reserve still there: %v", err)
	}
	sts, _ = m.Statuses()
	if sts[0].ReserveBytes != 0 || sts[0].FreeBytes != 15*mib || sts[0].FloorBytes != 28*mib {
		t.Fatalf("after release %+v", sts[0])
	}
	if free, ok, _ := m.MakeRoom(32 * mib); !ok || free != 79*mib {
		t.Fatalf("metadata store has %d bytes to write into, want the released 64 MiB + 15", free)
	}
	if err := m.Admit(0); errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Fatalf("the released reserve let writes in: %v", err)
	}
	if _, below, _ := m.Below(); !below {
		t.Error("Below says not below")
	}

	// A check while still below keeps the reserve released.
	if _, err := m.check(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.dir, ReserveFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("reserve re-created below the floor")
	}

	// Space comes back, but not past the floor raised by the hysteresis:
	// writes stay refused and the reserve released.
	d.used.Store(1000*mib - 64*mib - 25*mib)
	if err := m.Admit(0); errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Fatalf("5 MiB over the floor, under the hysteresis: %v", err)
	}
	if sts, err := m.check(); err != nil || sts[0].ReserveBytes != 0 {
		t.Fatalf("reserve re-created within the hysteresis: %+v %v", sts, err)
	}

	// Space comes back: the next check re-creates the reserve, and
	// usable space is what it was.
	d.used.Store(100 * mib)
	sts, err = m.check()
	if err != nil || sts[0].ReserveBytes != 64*mib || sts[0].FreeBytes != 1000*mib-64*mib-100*mib {
		t.Fatalf("after recovery %+v %v", sts, err)
	}
	if fi, err := os.Stat(filepath.Join(d.dir, ReserveFile)); err != nil || fi.Size() != 64*mib {
		t.Fatalf("reserve file %v %v", fi, err)
	}
	if err := m.Admit(0); err != nil || sts[0].FloorBytes != 20*mib {
		t.Fatalf("after recovery: %v, floor %d", err, sts[0].FloorBytes)
	}

	// A restart or shutdown that needs more room than is free gets the
	// reserve; one that has it leaves the reserve alone.
	if free, _, err := m.MakeRoom(32 * mib); err != nil || free != 1000*mib-64*mib-100*mib || sts[0].ReserveBytes != 64*mib {
		t.Fatalf("make room with room: %d %v", free, err)
	}
	d.used.Store(1000*mib - 64*mib - 10*mib)
	if free, _, err := m.MakeRoom(32 * mib); err != nil || free != 74*mib {
		t.Fatalf("make room without room: %d %v; want the reserve's 64 MiB + 10", free, err)
	}
	d.used.Store(100 * mib)
	if _, err := m.check(); err != nil {
		t.Fatal(err)
	}

	// Inodes have their own floor.
	d.inodesFree.Store(999)
	if err := m.Admit(0); errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Fatalf("999 free inodes under a floor of 1000: %v", err)
	}
}

// A restart takes over a whole reserve and replaces a torn one.
func TestReserveAdopt(t *testing.T) {
	dir := t.TempDir()
	r := &reserve{path: filepath.Join(dir, ReserveFile), size: 4 * mib}
	if err := r.create(); err != nil {
		t.Fatal(err)
	}
	again := &reserve{path: r.path, size: r.size}
	if err := again.adopt(); err != nil || again.held.Load() != r.size {
		t.Fatalf("whole reserve not adopted: %d %v", again.held.Load(), err)
	}
	// A sparse file of the right size holds nothing: it is removed.
	if err := os.Truncate(r.path, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(r.path, r.size); err != nil {
		t.Fatal(err)
	}
	torn := &reserve{path: r.path, size: r.size}
	if err := torn.adopt(); err != nil || torn.held.Load() != 0 {
		t.Fatalf("sparse reserve adopted: %d %v", torn.held.Load(), err)
	}
	if _, err := os.Stat(r.path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sparse reserve left: %v", err)
	}
}

func TestClassify(t *testing.T) {
	err := Classify(&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	if errcode.KindOf(err) != errcode.InsufficientStorage {
		t.Errorf("ENOSPC classified %v", err)
	}
	other := errors.New("other")
	if Classify(other) != other || Classify(nil) != nil {
		t.Error("other errors changed")
	}
}

// BenchmarkAdmit is the check every manifest put, mount and upload buffer
// pays, on the real statfs(2) of a temporary directory: one statfs per
// watched filesystem.
func BenchmarkAdmit(b *testing.B) {
	m, err := New(Options{Dirs: []Dir{{Name: "data", Path: b.TempDir()}}, MinFree: Floor{Amount: 1}, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := m.Admit(4096); err != nil {
				b.Fatal(err)
			}
		}
	})
}
