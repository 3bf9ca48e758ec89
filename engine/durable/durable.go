package durable

import (
	"io"
	"os"
)

// WriteFile creates path, which must not exist, readable by its owner
// only, lets write fill it, and fsyncs and closes it. On an error the
// partial file is left for the caller to remove: only the caller knows
// whether its directory is a scratch one.
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// SyncDir fsyncs directory dir: the names created, renamed or removed in
// it are durable once it returns nil.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
