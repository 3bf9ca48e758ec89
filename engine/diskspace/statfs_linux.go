package diskspace

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// usage is one statfs sample of a filesystem.
type usage struct {
	totalBytes, freeBytes   uint64
	totalInodes, freeInodes uint64
}

// statfs samples the filesystem holding dir. Free bytes are the blocks an
// unprivileged process may use (f_bavail): the blocks ext4 keeps for root
// are a margin for the system, not for the registry, even when mcr runs
// as root.
func statfs(dir string) (usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return usage{}, err
	}
	bs := uint64(st.Bsize)
	return usage{
		totalBytes:  st.Blocks * bs,
		freeBytes:   st.Bavail * bs,
		totalInodes: st.Files,
		freeInodes:  st.Ffree,
	}, nil
}

// deviceOf is the device number of the filesystem holding dir, which
// tells two watched directories on one filesystem apart from two on two.
func deviceOf(dir string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, err
	}
	return st.Dev, nil
}

// allocate gives f size bytes of real blocks (not a sparse hole), so that
// the space is taken now and handed back whole when f is removed.
func allocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return errors.ErrUnsupported
	}
	return err
}

// allocatedBytes is the space fi's blocks take (st_blocks counts 512-byte
// units whatever the filesystem's block size).
func allocatedBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return 0
}

// syncFS commits the filesystem holding dir (syncfs(2)), and with it the
// journal transaction that frees a deleted file's blocks.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
