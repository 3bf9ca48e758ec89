package engine

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
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
	shared := enginetest.Open(t, "") // its blob directory; its Badger is unused
	dsn := pgtest.Database(t)
	regs := make([]*Registry, n)
	for i := range regs {
		store := enginetest.Postgres(t, dsn, 8)
		blobs, err := blobstore.Open(shared.Dir, shared.Barrier)
		if err != nil {
			t.Fatal(err)
		}
		r := New(store, blobs, Options{})
		t.Cleanup(func() {
			if err := r.Close(context.Background()); err != nil {
				t.Error(err)
			}
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

// TestUploadAcrossReplicas checks upload sessions between replicas: a
// session started on one replica takes chunks on the others and is
// finished on a third; and two requests on two replicas that took up the
// same state cannot both advance it (the second is RANGE_INVALID with the
// offset to resume from), so the session never forks.
func TestUploadAcrossReplicas(t *testing.T) {
	regs := newReplicas(t, 3)
	ctx := context.Background()
	const repo = "replicas/upload"
	data := randomData(3 << 20)
	third := len(data) / 3
	up, err := regs[0].StartUpload(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range regs[1:] {
		chunk := data[i*third : (i+1)*third]
		st, err := r.AppendUpload(ctx, repo, up.ID, int64(i*third), bytes.NewReader(chunk), int64(len(chunk)))
		if err != nil || st.Offset != int64((i+1)*third) {
			t.Fatalf("chunk %d on replica %d: %+v %v", i, i+1, st, err)
		}
	}

	// Two requests take up the same state on two replicas.
	s1, err := regs[1].open(ctx, repo, up.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := regs[2].open(ctx, repo, up.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 4096
	next := data[2*third : 2*third+extra]
	for _, s := range []*session{s1, s2} {
		if _, err := s.write(ctx, bytes.NewReader(next), extra); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.persist(ctx, extra); err != nil {
		t.Fatalf("first writer: %v", err)
	}
	wantKind(t, s2.persist(ctx, extra), errcode.RangeInvalid, "second writer of the same state")
	s1.close()
	s2.close()

	st, err := regs[0].UploadStatus(ctx, repo, up.ID)
	if err != nil || st.Offset != int64(2*third+extra) {
		t.Fatalf("status after the race: %+v %v", st, err)
	}
	rest := data[st.Offset:]
	d := digest.FromBytes(data)
	if err := regs[0].FinishUpload(ctx, repo, up.ID, d, st.Offset, bytes.NewReader(rest), int64(len(rest))); err != nil {
		t.Fatalf("finishing on replica 0: %v", err)
	}
	for i, r := range regs {
		if size, err := r.StatBlob(ctx, repo, d); err != nil || size != int64(len(data)) {
			t.Errorf("replica %d: blob %d bytes, %v", i, size, err)
		}
	}
}
