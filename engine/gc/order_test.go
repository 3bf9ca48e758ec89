package gc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// deleteOrder checks design §5's order on the real stores: the collector
// deletes a blob's object only once its record is gone. Before passing
// each Delete on, it reads the record in a fresh snapshot of the metadata
// store; a record still there is a violation (the object would go while
// the metadata says the blob exists).
type deleteOrder struct {
	deleted    atomic.Int64
	mu         sync.Mutex
	violations []string
}

// watch returns blobs with its deletions checked against store. Only the
// port is seen through it: the collector's optional capabilities are not
// needed by an online run.
func (o *deleteOrder) watch(store kv.Store, blobs blobstore.Store) blobstore.Store {
	return &orderedDeletes{Store: blobs, meta: store, o: o}
}

func (o *deleteOrder) report() (deleted int64, violations []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deleted.Load(), append([]string(nil), o.violations...)
}

type orderedDeletes struct {
	blobstore.Store
	meta kv.Store
	o    *deleteOrder
}

func (w *orderedDeletes) Delete(ctx context.Context, d digest.Digest) error {
	err := w.meta.View(ctx, func(r kv.Reader) error {
		_, err := r.Get(kv.BlobKey(d.String()))
		return err
	})
	switch {
	case err == nil:
		w.o.mu.Lock()
		w.o.violations = append(w.o.violations, fmt.Sprintf("object %s deleted while its record exists", d))
		w.o.mu.Unlock()
	case !errors.Is(err, kv.ErrNotFound):
		return err
	}
	if err := w.Store.Delete(ctx, d); err != nil {
		return err
	}
	w.o.deleted.Add(1)
	return nil
}

// The check fails where it must: an object deleted while its record
// stands is reported, one deleted after is not.
func TestDeleteOrderCatchesEarlyDelete(t *testing.T) {
	e := newEnv(t, defaults())
	o := &deleteOrder{}
	blobs := o.watch(e.store, e.blobs)
	kept := e.blob("a", randBytes(100))
	if err := blobs.Delete(e.ctx, kept.Digest); err != nil {
		t.Fatal(err)
	}
	if _, v := o.report(); len(v) != 1 {
		t.Fatalf("deleting the object of a recorded blob: %d violations, want 1", len(v))
	}
	// Local files answer ErrNotFound for an absent object (the port
	// allows either): what matters is that no violation is added.
	if err := blobs.Delete(e.ctx, digest.FromString("never recorded")); err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatal(err)
	}
	if _, v := o.report(); len(v) != 1 {
		t.Fatalf("after a delete without a record: %d violations, want still 1", len(v))
	}
}
