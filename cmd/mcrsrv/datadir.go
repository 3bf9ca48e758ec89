package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"
)

// ownedDirs are the directories mcr creates in a data directory; each
// holds something only the server should read (password hashes and
// signing keys in meta/, private images in blobs/ and uploads/, whole
// copies of both in snapshots/).
var ownedDirs = []string{".", "meta", "blobs", "uploads", "snapshots"}

// warnLooseDirs logs a warning for each existing directory of data that
// its group or other users may enter or read. mcr creates them 0700; a
// looser mode was set by hand, by an older mcr or by a restore tool, and
// is left alone: the operator may have a reason (a backup agent's group).
func warnLooseDirs(data string, log zerolog.Logger) {
	for _, d := range ownedDirs {
		path := filepath.Join(data, d)
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			log.Warn().Err(err).Str("path", path).Msg("cannot check the data directory's permissions")
			continue
		}
		if perm := fi.Mode().Perm(); fi.IsDir() && perm&0o077 != 0 {
			log.Warn().Str("path", path).Str("mode", perm.String()).Str("fix", "chmod 700 "+path).
				Msg("data directory is accessible to other users; it holds password hashes and signing keys")
		}
	}
}
