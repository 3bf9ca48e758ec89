package kv

import (
	"os"
	"syscall"
)

// datasync writes f's data and what is needed to read it back
// (fdatasync(2)), but not its timestamps: every write through Badger's
// memory maps changes the log's modification time, and an fsync would
// commit the filesystem's journal for that alone.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
