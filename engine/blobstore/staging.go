package blobstore

import (
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// DirectAlign is the alignment direct I/O needs of a buffer's address, a
// write's length and the file offset: 4096 covers disks with 512-byte and
// 4 KiB logical blocks. Callers that want their writes to bypass the page
// cache hand File buffers aligned to it (AlignedBuffer).
const DirectAlign = 4096

// writebackEvery is how many bytes written through the page cache File
// lets accumulate before asking the kernel to start writing them back.
const writebackEvery = 2 << 20

// File is a staging file open for writing: the body of an upload goes
// through its Write, then Sync, then the store's Commit.
//
// Writes go through the page cache unless the writer calls AllowDirect, as
// the engine does for a large body (engine/stream.go): then, where the
// filesystem supports O_DIRECT (ext4, xfs, btrfs; not tmpfs), every
// block-aligned run of a buffer at an aligned address and file offset goes
// straight from the buffer to the disk. For a large blob the copy into the
// page cache costs as much CPU as its SHA-256 (about 900 MB/s per core on
// the benchmark machine) and contends with it, and one 4 MiB direct write
// keeps the disk busier than the writeback of the same bytes. Small blobs
// stay in the page cache, where their first pulls find them; measured on
// push-image, sending them direct and reading them back saved mcr CPU but
// no throughput, and advising the read-back inline cost latency. What is
// not aligned (the tail of a blob, a chunk that starts mid-block, a buffer
// at an odd address) is written through the page cache, which the fsync
// before Commit flushes like the rest. Bytes written through the page
// cache start their writeback every 2 MiB so that the fsync finds little
// left to do.
type File struct {
	f         *os.File
	off       int64 // file offset of the next write
	canDirect bool  // AllowDirect was called and O_DIRECT not refused yet
	direct    bool  // O_DIRECT is set on f now
	flushed   int64 // offset up to which buffered writeback was started
	// wroteDirect says some bytes bypassed the page cache.
	wroteDirect bool
	// readFrom is the offset from which the bytes written direct have
	// not been handed to readBack yet.
	readFrom int64
	// barrier, when set, stands in for fsync (FS.barrier).
	barrier *Barrier
}

// openStaging opens path with flag and returns it positioned at offset 0.
func (s *FS) openStaging(path string, flag int) (*File, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{f: f, barrier: s.barrier}, nil
}

// AllowDirect lets later writes bypass the page cache where they can. A
// filesystem that refuses O_DIRECT is found out at the first such write,
// which then goes through the page cache like every write after it.
func (f *File) AllowDirect() { f.canDirect = true }

// Write writes p at the file's offset: its aligned part with direct I/O
// when possible, the rest through the page cache.
func (f *File) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		n := len(p)
		useDirect := f.canDirect && f.off%DirectAlign == 0 && n >= DirectAlign && aligned(p)
		if useDirect {
			n &^= DirectAlign - 1
		}
		if useDirect != f.direct {
			if err := setDirect(f.f, useDirect); err != nil {
				if useDirect {
					// Refused: write through the page cache from now on.
					f.canDirect = false
					continue
				}
				return done, err
			}
			f.direct = useDirect
		}
		k, err := f.f.Write(p[:n])
		f.off += int64(k)
		f.wroteDirect = f.wroteDirect || (useDirect && k > 0)
		done += k
		p = p[k:]
		if err != nil {
			if useDirect && k == 0 && errors.Is(err, syscall.EINVAL) {
				// The filesystem took the flag but not this write (an
				// alignment stricter than DirectAlign): fall back.
				f.canDirect = false
				continue
			}
			return done, err
		}
		if useDirect {
			f.readBackWritten(readBackEvery)
		} else {
			f.startWriteback()
		}
	}
	return done, nil
}

// readBackEvery is how many bytes written direct File lets accumulate
// before it has them read back into the page cache, while the upload
// goes on. Read back only after the whole body was synced, a 256 MiB
// blob pulled the moment its push was acknowledged found 9–13 % of
// itself in the page cache and was served at the speed of a cold one.
const readBackEvery = 32 << 20

// readBackWritten reads back what was written direct since the last
// read-back, once there are at least `least` bytes of it. The bytes are on
// the disk already (a direct write returns when the device has them);
// the fsync before Commit is what makes them durable, and the read-back
// neither needs nor changes that.
func (f *File) readBackWritten(least int64) {
	if n := f.off - f.readFrom; f.wroteDirect && n > 0 && n >= least {
		readBack(f.f, f.readFrom, n)
		f.readFrom = f.off
	}
}

// startWriteback asks the kernel to begin writing back the bytes written
// through the page cache since the last call, once there are enough.
// Advice only: the fsync still guarantees durability.
func (f *File) startWriteback() {
	if f.off-f.flushed >= writebackEvery {
		startWriteback(f.f, f.flushed, f.off-f.flushed)
		f.flushed = f.off
	}
}

// Sync makes everything written durable: an fsync, or with a Barrier a
// filesystem sync shared with other writers. When some of it was written
// with direct I/O, the kernel then reads back into the page cache, in the
// background, what Write has not had read back already (readBackEvery):
// a blob just pushed is the one most likely to be pulled next (by the
// other jobs of the same CI pipeline), and the read-back costs the disk a
// read but the CPU no copy.
func (f *File) Sync() error {
	var err error
	if f.barrier != nil {
		err = f.barrier.Wait()
	} else {
		err = f.f.Sync()
	}
	if err != nil {
		return err
	}
	// What is left of this File's bytes: a chunked upload's earlier
	// chunks were read back after their own PATCH, and this one's first
	// bytes while it was written.
	f.readBackWritten(1)
	return nil
}

// Prefetch has the kernel read the first n bytes of f, a blob about to be
// served, into the page cache ahead of sendfile, which otherwise reads a
// blob that is not cached in readahead-sized steps only as fast as the
// socket drains, so that disk and network take turns.
func Prefetch(f *os.File, n int64) { readAhead(f, 0, n, prefetches) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Truncate cuts the file to n bytes, for a write refused part-way (a full
// disk): the bytes past the upload's recorded offset would otherwise hold
// space until the session is resumed or expires. The file's offset moves
// to n with it.
func (f *File) Truncate(n int64) error {
	if err := f.f.Truncate(n); err != nil {
		return err
	}
	return f.seek(n)
}

// seek positions the file at offset, which must be its length: writes
// only ever append.
func (f *File) seek(offset int64) error {
	if _, err := f.f.Seek(offset, 0); err != nil {
		return err
	}
	f.off, f.flushed, f.readFrom = offset, offset, offset
	return nil
}

func aligned(p []byte) bool { return uintptr(unsafe.Pointer(&p[0]))%DirectAlign == 0 }

// AlignedBuffer returns a buffer of n bytes (a multiple of DirectAlign)
// whose address is aligned for direct I/O.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+DirectAlign)
	skip := (DirectAlign - int(uintptr(unsafe.Pointer(&b[0]))%DirectAlign)) % DirectAlign
	return b[skip : skip+n : skip+n]
}
