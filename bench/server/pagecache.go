package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blobPath is where the registry keeps the bytes of a blob: both lay
// their filesystem stores out by digest (mcr: docs/design.md §3;
// distribution: its storage driver's path spec).
func (p *Process) blobPath(digest string) (string, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok || len(hex) < 2 {
		return "", fmt.Errorf("digest %q", digest)
	}
	data := filepath.Join(p.Dir, "data")
	switch p.Kind {
	case MCR:
		return filepath.Join(data, "blobs", alg, hex[:2], hex), nil
	case Reference:
		return filepath.Join(data, "docker", "registry", "v2", "blobs", alg, hex[:2], hex, "data"), nil
	}
	return "", fmt.Errorf("%s keeps no blob files", p.Kind)
}

// DropCache evicts the blob's file from the page cache
// (posix_fadvise(POSIX_FADV_DONTNEED)), so that its next GET reads the
// disk. The file is clean (fsynced before the push was acknowledged), so
// every page can go.
func (p *Process) DropCache(digest string) error {
	return p.withBlob(digest, func(f *os.File, _ int64) error {
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
}

// Resident is the fraction (0..1) of the blob file's pages in the page
// cache now (mincore(2) over a read-only mapping, which reads nothing).
func (p *Process) Resident(digest string) (float64, error) {
	var frac float64
	err := p.withBlob(digest, func(f *os.File, size int64) error {
		if size == 0 {
			frac = 1
			return nil
		}
		m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return err
		}
		defer unix.Munmap(m)
		page := int64(os.Getpagesize())
		vec := make([]byte, (size+page-1)/page)
		// golang.org/x/sys/unix has no mincore wrapper.
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			return e
		}
		in := 0
		for _, v := range vec {
			in += int(v & 1)
		}
		frac = float64(in) / float64(len(vec))
		return nil
	})
	return frac, err
}

func (p *Process) withBlob(digest string, fn func(f *os.File, size int64) error) error {
	path, err := p.blobPath(digest)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return fn(f, st.Size())
}
