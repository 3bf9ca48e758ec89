//go:build unix

package kv

import (
	"io/fs"
	"syscall"
)

// allocated is the disk space a file occupies: st_blocks counts 512-byte
// units whatever the filesystem's block size (stat(2)).
func allocated(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
