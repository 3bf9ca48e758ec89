package blobstore

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// TestReadAheadReleases checks that a long read-ahead runs on its own
// descriptor (the caller closes its file at once) and gives its slot back,
// and that past maxReadAheads concurrent ones the rest are skipped rather
// than queued.
func TestReadAheadReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, make([]byte, 3*readAheadStep), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 * maxReadAheads {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		readAhead(f, 0, 3*readAheadStep, readBacks)
		_ = f.Close()
	}
	wait.For(t, "the read-aheads to finish", func() bool { return len(readBacks) == 0 })
}

// TestReadBackCaches checks that a File written with direct I/O has its
// bytes back in the page cache after Sync, read by a descriptor of its
// own (the file is closed at once and renamed, as a commit does), and
// that the read-back gives its slot back.
func TestReadBackCaches(t *testing.T) {
	dir := t.TempDir()
	s := &FS{uploads: dir}
	f, err := s.openStaging(filepath.Join(dir, "staging"), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	f.AllowDirect()
	buf := AlignedBuffer(4 << 20)
	for i := range 3 {
		buf[0] = byte(i)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if !f.wroteDirect {
		_ = f.Close()
		t.Skip("the temporary directory's filesystem refuses O_DIRECT")
	}
	if err := unix.Fadvise(int(f.f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	committed := filepath.Join(dir, "blob")
	if err := os.Rename(filepath.Join(dir, "staging"), committed); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the read-back to finish", func() bool { return len(readBacks) == 0 })
	if got := residentShare(t, committed); got < 1 {
		t.Fatalf("%.0f%% of the file in the page cache after the read-back, want all of it", 100*got)
	}
}

// TestReadBackWhileWriting checks that the bytes written direct are read
// back while the upload goes on, every readBackEvery, so that a pull the
// moment the push is acknowledged finds them cached: before Sync, the
// first readBackEvery bytes of a body a little longer are in the page
// cache; after it, all of them.
func TestReadBackWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := &FS{uploads: dir}
	path := filepath.Join(dir, "staging")
	f, err := s.openStaging(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.AllowDirect()
	const step = 4 << 20
	buf := AlignedBuffer(step)
	for written := 0; written < readBackEvery+2*step; written += step {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if !f.wroteDirect {
		t.Skip("the temporary directory's filesystem refuses O_DIRECT")
	}
	wait.For(t, "the read-back to finish", func() bool { return len(readBacks) == 0 })
	total := float64(readBackEvery + 2*step)
	if got, want := residentShare(t, path), readBackEvery/total; got < want {
		t.Fatalf("before Sync: %.0f%% of the file in the page cache, want the first %.0f%%", 100*got, 100*want)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the read-back to finish", func() bool { return len(readBacks) == 0 })
	if got := residentShare(t, path); got < 1 {
		t.Fatalf("after Sync: %.0f%% of the file in the page cache, want all of it", 100*got)
	}
}

// residentShare is the share of path's pages in the page cache
// (mincore(2) over a read-only mapping, which reads nothing).
func residentShare(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	// golang.org/x/sys/unix has no mincore wrapper.
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}
