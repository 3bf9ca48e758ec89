package kv

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// DiskUsage is the metadata store's footprint on disk, in allocated bytes
// (the blocks the files occupy), split by what the files hold.
//
// Allocated, not apparent, sizes: Badger preallocates its value log
// (2 GiB) and memtable logs as sparse files, so their apparent size says
// nothing about the disk they take: 190 KB of metadata once showed as
// 2.0 GiB.
type DiskUsage struct {
	LSM      int64 // *.sst: the LSM tree's tables
	ValueLog int64 // *.vlog: values over the value threshold
	Other    int64 // memtable logs (*.mem), MANIFEST, KEYREGISTRY, DISCARD
}

// Total is every byte the store holds on disk.
func (u DiskUsage) Total() int64 { return u.LSM + u.ValueLog + u.Other }

// DiskUsage walks the store's directory and sums the allocated size of its
// files. A file removed during the walk (a compaction) is skipped; an
// in-memory store uses no disk.
//
// It implements Sizer.
func (s *Badger) DiskUsage() (DiskUsage, error) {
	var u DiskUsage
	opts := s.db.Opts()
	if opts.InMemory {
		return u, nil
	}
	dirs := []string{opts.Dir}
	if opts.ValueDir != "" && filepath.Clean(opts.ValueDir) != filepath.Clean(opts.Dir) {
		dirs = append(dirs, opts.ValueDir)
	}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			n := allocated(fi)
			switch {
			case strings.HasSuffix(path, ".sst"):
				u.LSM += n
			case strings.HasSuffix(path, ".vlog"):
				u.ValueLog += n
			default:
				u.Other += n
			}
			return nil
		})
		if err != nil {
			return u, err
		}
	}
	return u, nil
}
