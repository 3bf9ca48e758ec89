package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// The disk-space defaults (docs/operations.md, "Disk space").
var (
	// 2 % or 1 GiB, whichever is smaller: room for the uploads in flight
	// when the floor is crossed (each stops at its next 1–4 MiB buffer)
	// and for the operator to act, without idling 200 GB of a 10 TB disk.
	defaultMinFree = diskspace.Floor{Percent: 2, Amount: 1 << 30}
	// 1 % or 10 000: every blob and staging file takes one.
	defaultMinFreeInodes = diskspace.Floor{Percent: 1, Amount: 10000}
)

// flushUnit is the unit of the metadata store's disk needs below: one
// memtable flush as the reserve and floors were sized and run in the
// disk-full test, with 16 MiB memtables. Memtables are 4 MiB now
// (kv.MemTableSize, shrunk for memory), so each figure below covers four
// times the flushes it names: a margin kept rather than re-measured.
const flushUnit = 16 << 20

// defaultReserve is four flushes: below the floor the metadata store
// may flush a full memtable to a level-0 table (one), start filling the
// next memtable's log (two) and compact level 0 (the rest), and a clean
// shutdown flushes once more.
const defaultReserve = 4 * flushUnit

// minReserve is one flush: the least that lets a clean shutdown on a
// full disk finish.
const minReserve = flushUnit

// closeHeadroom is the free space the metadata store needs to be closed
// cleanly: the flush of a full memtable, with margin.
const closeHeadroom = 2 * flushUnit

// ByteFloor is storage.min_free: "2%", "1GiB" or "2%, 1GiB".
type ByteFloor struct{ diskspace.Floor }

// UnmarshalText parses a byte floor.
func (f *ByteFloor) UnmarshalText(b []byte) (err error) {
	f.Floor, err = diskspace.ParseBytes(string(b))
	return err
}

// MarshalText writes f as UnmarshalText reads it.
func (f ByteFloor) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// InodeFloor is storage.min_free_inodes: "1%", "10000" or "1%, 10000".
type InodeFloor struct{ diskspace.Floor }

// UnmarshalText parses an inode floor.
func (f *InodeFloor) UnmarshalText(b []byte) (err error) {
	f.Floor, err = diskspace.ParseCount(string(b))
	return err
}

// MarshalText writes f as UnmarshalText reads it.
func (f InodeFloor) MarshalText() ([]byte, error) { return []byte(f.CountString()), nil }

// monitor watches the data and metadata directories' filesystems and
// brings the reserve to its state before the metadata store opens:
// released when the disk is below its floor, so that Badger's Open has
// room to write. It returns nil where statfs is missing (logged).
func (s StorageConfig) monitor(data, meta string, log zerolog.Logger) (*diskspace.Monitor, error) {
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return nil, err
	}
	m, err := diskspace.New(diskspace.Options{
		Dirs:    []diskspace.Dir{{Name: "data", Path: data}, {Name: "meta", Path: meta}},
		MinFree: s.MinFree.Floor, MinFreeInodes: s.MinFreeInodes.Floor,
		ReserveDir: meta, Reserve: int64(min(s.Reserve.Bytes, 1<<62)),
		// A memtable's log is the largest amount Badger gives back at
		// once (it is deleted after the flush).
		Hysteresis:   flushUnit,
		FloorAtLeast: closeHeadroom,
		Log:          log,
	})
	if errors.Is(err, errors.ErrUnsupported) {
		log.Info().Err(err).Msg("storage: free space is not watched on this platform")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sts, err := m.Prepare()
	if err != nil {
		// A reserve that cannot be made now is retried by Run; the
		// floors still hold.
		log.Warn().Err(err).Msg("storage: preparing the disk space reserve")
	}
	for _, st := range sts {
		ev := log.Info()
		if st.Below(0) {
			ev = log.Warn().Str("reason", st.Reason())
		}
		ev.Str("filesystem", st.Names).Str("free", humanize.IBytes(st.FreeBytes)).Str("floor", humanize.IBytes(st.FloorBytes)).
			Uint64("free_inodes", st.FreeInodes).Uint64("floor_inodes", st.FloorInodes).
			Str("reserve", humanize.IBytes(st.ReserveBytes)).Msg("storage")
	}
	return m, nil
}

// roomToOpen makes room for the metadata store to open (releasing the
// reserve if it must) and refuses when even then the filesystem has less
// than closeHeadroom free: Badger's Open
// writes its new log files and flushes the replayed memtables through
// memory maps, and on a full disk that is a SIGBUS, not an error. A
// clear refusal lets the operator free space and start again; it only
// happens when something other than mcr took the reserve.
func roomToOpen(m *diskspace.Monitor) error {
	if m == nil {
		return nil
	}
	free, ok, err := m.MakeRoom(closeHeadroom)
	if err != nil || !ok || free >= closeHeadroom {
		return err
	}
	return fmt.Errorf("the metadata directory's filesystem has %s free; opening the metadata store needs %s "+
		"(it writes through memory maps, where a full disk is a crash): free space on it and start again",
		humanize.IBytes(free), humanize.IBytes(closeHeadroom))
}

// canClose says whether the metadata store has room for a clean close
// (its memtable flush). On a disk another process filled past the
// released reserve it has not: a memory-mapped write there is a SIGBUS,
// so the store is left for the next start to replay, as after a crash —
// every acknowledged write is in its synced log.
func canClose(m *diskspace.Monitor, log zerolog.Logger) bool {
	if m == nil {
		return true
	}
	free, ok, err := m.MakeRoom(closeHeadroom)
	if err != nil || !ok || free >= closeHeadroom {
		return true
	}
	log.Error().Str("free", humanize.IBytes(free)).Str("needed", humanize.IBytes(closeHeadroom)).
		Msg("metadata disk full: not closing the metadata store (its log is replayed at the next start)")
	return false
}

// storeCloseTimeout bounds closing the metadata store once everything
// else has stopped. Badger retries a memtable flush that fails (its
// directory deleted, a failing disk) every second, forever: past this the
// process exits without it, as after a crash. What the flush was writing
// is in Badger's synced log, replayed at the next start.
const storeCloseTimeout = 10 * time.Second

// closeStore closes store within timeout. Failing to, it returns an error
// (mcrsrv exits non-zero) and leaves the close running while the process
// exits.
func closeStore(store kv.Store, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- store.Close() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("closing the metadata store: %w", err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("the metadata store did not close within %s; exited without it (its log is replayed at the next start)", timeout)
	}
}
