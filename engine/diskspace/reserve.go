package diskspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// ReserveFile is the reserve's name in the metadata directory. Badger
// ignores files it does not know.
const ReserveFile = "space-reserve"

// reserve is a preallocated file that holds space for the metadata store
// (see doc.go). held is what it holds now: its size or 0.
type reserve struct {
	path string
	size int64
	mu   sync.Mutex // serializes create and release
	held atomic.Int64
	// unsupported is set when the filesystem cannot preallocate: there
	// is no reserve then, and its size no longer counts against free
	// space.
	unsupported atomic.Bool
}

// want is the reserve's size while it can exist, else 0.
func (r *reserve) want() int64 {
	if r.unsupported.Load() {
		return 0
	}
	return r.size
}

// adopt takes over a reserve left by an earlier run if it is whole
// (all its blocks allocated), else removes what is there.
func (r *reserve) adopt() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() == r.size && allocatedBytes(fi) >= r.size {
		r.held.Store(r.size)
		return nil
	}
	return removeMissingOK(r.path)
}

// create allocates the reserve unless it is held. On failure (the space
// went meanwhile) nothing is left behind.
func (r *reserve) create() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held.Load() == r.size || r.unsupported.Load() {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, r.size)
	if err == nil {
		// The blocks are taken once fallocate returns; the sync makes the
		// reserve survive a crash, so a restart on a disk filled meanwhile
		// still finds it to release before opening the store.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = removeMissingOK(r.path)
		if errors.Is(err, errors.ErrUnsupported) {
			r.unsupported.Store(true) // reported once, by this error
		}
		return err
	}
	r.held.Store(r.size)
	return nil
}

// release removes the reserve, handing its space to the metadata store.
// It reports whether there was anything to release.
func (r *reserve) release() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held.Load() == 0 {
		return false, nil
	}
	r.held.Store(0)
	if err := removeMissingOK(r.path); err != nil {
		return true, err
	}
	// ext4 counts a deleted file's blocks as free only once the journal
	// commits the deletion (up to its 5 s commit interval): until then
	// the released space is not there for the metadata store to use.
	return true, syncFS(filepath.Dir(r.path))
}

func removeMissingOK(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
