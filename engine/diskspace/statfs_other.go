//go:build !linux

package diskspace

import (
	"errors"
	"io/fs"
	"os"
)

type usage struct {
	totalBytes, freeBytes   uint64
	totalInodes, freeInodes uint64
}

// Elsewhere mcr does not watch its disks: New reports it and the caller
// runs without floors.
func statfs(string) (usage, error)     { return usage{}, errors.ErrUnsupported }
func deviceOf(string) (uint64, error)  { return 0, errors.ErrUnsupported }
func allocate(*os.File, int64) error   { return errors.ErrUnsupported }
func allocatedBytes(fs.FileInfo) int64 { return 0 }
func syncFS(string) error              { return nil }
