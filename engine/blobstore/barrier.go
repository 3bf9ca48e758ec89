package blobstore

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Barrier makes everything written so far to a set of filesystems durable,
// one flush for many writers (group commit).
//
// An fsync is a flush of the disk's write cache, and a push needs three
// in order (the blob's bytes, its name in the fan-out directory, the
// metadata commit naming it), so concurrent pushes spend their time
// queued behind each other's flushes. A Barrier syncs whole filesystems
// (syncfs(2): every dirty page and inode, then one cache flush) and lets
// every writer that arrives while a sync runs share the next one, so a
// burst of N pushes costs a few flushes instead of 3N. The order of the
// three steps is kept: each waits for a sync that starts after it.
//
// The price: a sync also writes whatever else is dirty on the
// filesystem, so the data directory should be a filesystem of its own
// (storage.sync = "file" keeps per-file fsync for when it cannot be).
// An error is sticky: once a sync fails, bytes written before it may be
// lost, so no later Wait may claim durability (PostgreSQL's fsync lesson).
type Barrier struct {
	files []*os.File           // one per filesystem
	sync  func(*os.File) error // syncFS; tests count or fail syncs here

	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // syncs begun; one is running while started > done
	done    uint64 // syncs finished
	parked  int    // Waits blocked behind a running sync (tests observe it)
	err     error
}

// NewBarrier returns a Barrier covering the filesystems that hold dirs. It
// fails with errors.ErrUnsupported where the system cannot sync one
// filesystem (anywhere but Linux).
func NewBarrier(dirs ...string) (*Barrier, error) {
	if !canSyncFS {
		return nil, fmt.Errorf("blobstore: filesystem sync: %w", errors.ErrUnsupported)
	}
	b := &Barrier{sync: syncFS}
	b.cond.L = &b.mu
	seen := map[uint64]bool{}
	for _, d := range dirs {
		dev, err := deviceOf(d)
		if err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("blobstore: barrier: %w", err)
		}
		if seen[dev] {
			continue
		}
		seen[dev] = true
		f, err := os.Open(d)
		if err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("blobstore: barrier: %w", err)
		}
		b.files = append(b.files, f)
	}
	return b, nil
}

// Wait returns once a sync that began after the call has finished: every
// write that completed before Wait was called is then on disk.
func (b *Barrier) Wait() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A sync already running may have begun before the caller's writes:
	// only the next one counts.
	target := b.started + 1
	for b.done < target && b.err == nil {
		if b.started > b.done {
			b.parked++
			b.cond.Wait()
			b.parked--
			continue
		}
		b.started++
		n := b.started
		b.mu.Unlock()
		err := b.syncAll()
		b.mu.Lock()
		b.done = n
		if err != nil {
			b.err = err
		}
		b.cond.Broadcast()
	}
	return b.err
}

func (b *Barrier) syncAll() error {
	for _, f := range b.files {
		if err := b.sync(f); err != nil {
			return fmt.Errorf("blobstore: sync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// Waiter is b for a consumer that takes an optional barrier as an
// interface (kv.Options): nil, not a nil *Barrier, when b is nil.
func (b *Barrier) Waiter() interface{ Wait() error } {
	if b == nil {
		return nil
	}
	return b
}

// Close releases the directories' descriptors.
func (b *Barrier) Close() error {
	var errs []error
	for _, f := range b.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
