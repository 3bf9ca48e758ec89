//go:build !unix

package kv

import "io/fs"

// allocated falls back to the apparent size where stat(2)'s block count
// is not available.
func allocated(fi fs.FileInfo) int64 { return fi.Size() }
