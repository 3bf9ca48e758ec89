package blobstore

import (
	"errors"
	"fmt"
	"os"

	"git.wntrmute.dev/kyle/mcr/kv/flush"
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
// An error is sticky (kv/flush, which does the grouping).
type Barrier struct {
	files []*os.File           // one per filesystem
	sync  func(*os.File) error // syncFS; tests count or fail syncs here
	group *flush.Group         // runs syncAll for every waiter at once
}

// NewBarrier returns a Barrier covering the filesystems that hold dirs. It
// fails with errors.ErrUnsupported where the system cannot sync one
// filesystem (anywhere but Linux).
func NewBarrier(dirs ...string) (*Barrier, error) {
	if !canSyncFS {
		return nil, fmt.Errorf("blobstore: filesystem sync: %w", errors.ErrUnsupported)
	}
	b := &Barrier{sync: syncFS}
	b.group = flush.New(b.syncAll)
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
func (b *Barrier) Wait() error { return b.group.Wait() }

func (b *Barrier) syncAll() error {
	for _, f := range b.files {
		if err := b.sync(f); err != nil {
			return fmt.Errorf("blobstore: sync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// Close releases the directories' descriptors.
func (b *Barrier) Close() error {
	var errs []error
	for _, f := range b.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
