package main

import (
	"errors"
	"fmt"
	"os"

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
}

const (
	syncGroup = "group"
	syncFile  = "file"
)

func (s StorageConfig) validate() []error {
	if s.Sync != syncGroup && s.Sync != syncFile {
		return []error{fmt.Errorf("storage.sync %q: want %q or %q", s.Sync, syncGroup, syncFile)}
	}
	return nil
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
