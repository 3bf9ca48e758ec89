package engine

import (
	"bytes"
	"context"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// The tag-list cache across replicas (docs/scale-out.md). Within one
// process the repository's actor bumps an in-memory generation after each
// mutation (tagLists), which is enough while this process is the only
// writer. On a store other processes write too (kv.Changes.Shared: several
// replicas on one PostgreSQL) a mutation acknowledged by another replica
// never reaches that counter, so each repository also has a generation in
// the store, kv.TagGenerationKey: bumped in the same transaction as every
// change of the repository's tags, read in the same snapshot as the tags a
// list is built from, and read again before a cached list is served. A
// list is served only while the stored generation is the one it was built
// at, so a tag change acknowledged by any replica is in every list served
// after the acknowledgement: the price is one point read per cached
// listing instead of a scan of every tag.

// sharedStore reports whether other processes commit to store.
func sharedStore(store kv.Store) bool {
	c, ok := store.(kv.Changes)
	return ok && c.Shared()
}

// tagWatch is a transaction that notes whether it changed repo's tags,
// so that the mutation bumps their stored generation once, at its end.
type tagWatch struct {
	kv.Txn
	prefix  []byte
	changed bool
}

func (w *tagWatch) Set(key, val []byte) error {
	w.changed = w.changed || bytes.HasPrefix(key, w.prefix)
	return w.Txn.Set(key, val)
}

// GetMany forwards kv.MultiGetter, which the embedded interface hides.
func (w *tagWatch) GetMany(keys ...[]byte) ([][]byte, error) { return kv.GetMany(w.Txn, keys...) }

func (w *tagWatch) Delete(key []byte) error {
	w.changed = w.changed || bytes.HasPrefix(key, w.prefix)
	return w.Txn.Delete(key)
}

// versioned runs fn so that, on a shared store, a change of repo's tags
// bumps their stored generation in the same transaction.
func (r *Registry) versioned(repo string, fn func(kv.Txn) error) func(kv.Txn) error {
	if !r.shared {
		return fn
	}
	return func(t kv.Txn) error {
		w := &tagWatch{Txn: t, prefix: kv.TagPrefix(repo)}
		if err := fn(w); err != nil || !w.changed {
			return err
		}
		return kv.BumpTags(t, repo)
	}
}

// bumpTags moves repo's stored tag generation on after work that did its
// own transactions (Exclusive). It runs even when the caller stopped
// waiting: the work is done, and other replicas must see it.
func (r *Registry) bumpTags(ctx context.Context, repo string) error {
	if !r.shared {
		return nil
	}
	return r.kv.Update(context.WithoutCancel(ctx), func(t kv.Txn) error { return kv.BumpTags(t, repo) })
}

// storedTagGeneration is repo's generation in t; 0 on a store no other
// process writes, where the in-memory generation is the whole story.
func (r *Registry) storedTagGeneration(t kv.Reader, repo string) (uint64, error) {
	if !r.shared {
		return 0, nil
	}
	return kv.TagGeneration(t, repo)
}

// cachedTags is repo's cached list if it is current: its in-memory
// generation has not moved and, on a shared store, neither has its stored
// one. t is the snapshot to check in; nil: a snapshot of its own.
func (r *Registry) cachedTags(ctx context.Context, t kv.Reader, repo string) *TagList {
	tl := r.tags.current(repo)
	if tl == nil || !r.shared {
		return tl
	}
	var g uint64
	var err error
	if t != nil {
		g, err = kv.TagGeneration(t, repo)
	} else {
		err = r.kv.View(ctx, func(t kv.Reader) error {
			g, err = kv.TagGeneration(t, repo)
			return err
		})
	}
	if err != nil || g != tl.stored {
		return nil
	}
	return tl
}
