package engine

import (
	"context"
	"slices"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobstoretest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// newReplicas builds n registries as n replicas would run: each with its
// own metadata store (connection pool and change listener) on one
// PostgreSQL database, its own actors and caches, all sharing one blob
// directory.
func newReplicas(t testing.TB, n int) []*Registry {
	t.Helper()
	dir := t.TempDir()
	dsn := pgtest.Database(t)
	barrier := blobstoretest.Barrier(t, dir)
	regs := make([]*Registry, n)
	for i := range regs {
		store, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: dsn, MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		blobs, err := blobstore.Open(dir, barrier)
		if err != nil {
			t.Fatal(err)
		}
		r := New(store, blobs, Options{})
		t.Cleanup(func() {
			if err := r.Close(context.Background()); err != nil {
				t.Error(err)
			}
			_ = store.Close()
		})
		regs[i] = r
	}
	return regs
}

// TestTagListAcrossReplicas checks the tag-list cache between replicas:
// after a tag change acknowledged by one replica, the next listing on
// another includes it at once (no waiting), although that replica had the
// list cached; the same after maintenance work (Exclusive) on one.
func TestTagListAcrossReplicas(t *testing.T) {
	regs := newReplicas(t, 2)
	a, b := regs[0], regs[1]
	ctx := context.Background()
	const repo = "replicas/tags"
	m := pushImage(t, a, repo, []byte("base"))
	push := func(r *Registry, tag string) {
		t.Helper()
		if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: tag}, v1.MediaTypeImageManifest, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(r *Registry, want ...string) {
		t.Helper()
		tl, err := r.TagList(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tl.Tags, want) {
			t.Fatalf("tag list %v, want %v", tl.Tags, want)
		}
		p, err := r.Tags(ctx, repo, "", -1)
		if err != nil || !slices.Equal(p.Items, want) {
			t.Fatalf("tags %v (%v), want %v", p.Items, err, want)
		}
	}
	push(a, "v1")
	expect(b, "v1")
	expect(b, "v1") // now served from b's cache
	push(a, "v2")
	expect(b, "v1", "v2")
	if err := b.DeleteManifest(ctx, repo, names.Reference{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	expect(a, "v2")
	expect(a, "v2")
	push(b, "v3")
	expect(a, "v2", "v3")
	// Maintenance on a: its own transactions, then the bump.
	if err := a.Exclusive(ctx, repo, func(ctx context.Context) error {
		return a.kv.Update(ctx, func(t kv.Txn) error { return t.Delete(kv.TagKey(repo, "v2")) })
	}); err != nil {
		t.Fatal(err)
	}
	expect(b, "v3")
}
