package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

// StorageConfig says how the data directory is written
// (docs/operations.md).
type StorageConfig struct {
	// Sync is how an acknowledged write is made durable. "group" (the
	// default) syncs the data directory's filesystem once for every
	// write waiting at that moment (blobstore.Barrier, Linux's syncfs);
	// "file" fsyncs each file and directory written and has Badger fsync
	// each commit. Both make a 2xx mean on disk; group does it with a
	// fraction of the disk flushes under concurrent pushes, but also
	// flushes whatever else is dirty on that filesystem, so it wants the
	// data directory on a filesystem of its own. Where syncfs is missing
	// (anything but Linux) group falls back to file.
	Sync string `toml:"sync"`
	// MinFree is the floor of free space on each filesystem mcr writes
	// (the data directory's and the metadata directory's): below it,
	// uploads, manifest pushes and mounts are refused with 507 while
	// pulls, deletes and GC go on. A percentage of the filesystem, an
	// amount, or both ("2%, 1GiB": whichever is smaller); never less
	// than 32 MiB, what the metadata store may write at once.
	MinFree ByteFloor `toml:"min_free"`
	// MinFreeInodes is the floor of free inodes, written the same way
	// with a count ("1%, 10000"). Every blob and staging file is one.
	MinFreeInodes InodeFloor `toml:"min_free_inodes"`
	// Reserve is the size of the file preallocated in the metadata
	// directory and handed to the metadata store when its filesystem
	// goes below the floor, so that Badger's memory-mapped writes
	// (memtable flushes, compaction, a clean shutdown, the next start)
	// never meet a full disk, which would kill the process. 0 is none.
	Reserve Size `toml:"reserve"`
}

const (
	syncGroup = "group"
	syncFile  = "file"
)

func (s StorageConfig) validate() []error {
	var errs []error
	if s.Sync != syncGroup && s.Sync != syncFile {
		errs = append(errs, fmt.Errorf("storage.sync %q: want %q or %q", s.Sync, syncGroup, syncFile))
	}
	if s.Reserve.Bytes != 0 && s.Reserve.Bytes < minReserve {
		errs = append(errs, fmt.Errorf("storage.reserve %d bytes: want 0 (none) or at least %s", s.Reserve.Bytes, humanize.IBytes(minReserve)))
	}
	return errs
}

// barrier returns the group-commit barrier over the data directory and the
// metadata directory inside it (which may be another filesystem), or nil
// when writes are fsynced one by one.
func (s StorageConfig) barrier(data, meta string, log zerolog.Logger) (*blobstore.Barrier, error) {
	if s.Sync == syncFile {
		return nil, nil
	}
	if err := os.MkdirAll(meta, 0o700); err != nil {
		return nil, err
	}
	b, err := blobstore.NewBarrier(data, meta)
	if errors.Is(err, errors.ErrUnsupported) {
		log.Info().Err(err).Msg("storage.sync: group commit unavailable here; fsyncing each write")
		return nil, nil
	}
	return b, err
}
