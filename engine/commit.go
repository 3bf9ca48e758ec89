package engine

import (
	"context"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// How a write is acknowledged. A store that can apply a commit before it
// is durable (deferredStore: Badger behind the group-commit barrier) lets
// a writer drop what serializes it (a blob's writers stripe, the
// repository's actor) as soon as the commit is applied, and only then wait
// for the disk: the writers that were queued behind it commit in the
// meantime and share its flush, instead of each holding the stripe across
// a flush of its own (many mounts or pushes of one base layer at once).
// The acknowledgement still waits for the flush (docs/design.md §4).

// deferredStore is a metadata store that can commit without waiting for
// the commit to be durable, and wait for it after (kv.Badger).
type deferredStore interface {
	UpdateUnsynced(ctx context.Context, fn func(kv.Txn) error) error
	// Sync returns once every commit applied before it is durable.
	Sync() error
}

// committer returns how to apply a transaction and how to then make it
// durable: the store's Update and nothing, when it cannot separate them.
func (r *Registry) committer() (commit func(context.Context, func(kv.Txn) error) error, durable func() error) {
	if d, ok := r.kv.(deferredStore); ok {
		return d.UpdateUnsynced, d.Sync
	}
	return r.kv.Update, func() error { return nil }
}

// updateBlobs runs fn as one durable transaction that rewrites the records
// of blobs ds, holding their writers' stripes (blobWriters) for the commit
// only.
func (r *Registry) updateBlobs(ctx context.Context, ds []digest.Digest, fn func(kv.Txn) error) error {
	commit, durable := r.committer()
	unlock := r.writers.lock(ds...)
	err := commit(ctx, fn)
	unlock()
	if err != nil {
		return err
	}
	return durable()
}
