package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// tagsInKV is the ground truth: repo's tags scanned from kv.
func tagsInKV(t testing.TB, r *Registry, repo string) []string {
	t.Helper()
	var tags []string
	err := r.kv.View(context.Background(), func(tx kv.Reader) error {
		p, err := list(tx, kv.TagPrefix(repo), "", -1)
		tags = p.Items
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// checkList checks that a TagList's JSON is its Tags and that they are
// sorted.
func checkList(t testing.TB, repo string, tl *TagList) {
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(tl.JSON, &body); err != nil {
		t.Errorf("list JSON: %v", err)
		return
	}
	if body.Name != repo || !slices.Equal(body.Tags, tl.Tags) || !slices.IsSorted(tl.Tags) {
		t.Errorf("list of %s: JSON %s does not match tags %v", repo, tl.JSON, tl.Tags)
	}
}

// TestTagListCoherentUnderConcurrency hammers one repository with writers
// that each own a few tags and keep pushing and deleting them, while
// readers list the tags all the time (filling the cache from snapshots
// that race with the commits). After each acknowledged mutation its
// writer lists at once and must see it: the cache never serves a list
// older than an acknowledged mutation. Run under -race.
func TestTagListCoherentUnderConcurrency(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	const repo = "hammer/tags"
	m := pushImage(t, r, repo, []byte("shared"))
	if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "base"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		t.Fatal(err)
	}
	const writers, tagsEach, rounds, readers = 6, 3, 25, 4
	var stop atomic.Bool
	var wg, rg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for !stop.Load() {
				tl, err := r.TagList(ctx, repo)
				if err != nil {
					t.Error(err)
					return
				}
				checkList(t, repo, tl)
				if p, err := r.Tags(ctx, repo, "w", 2); err != nil || len(p.Items) > 2 {
					t.Errorf("page: %v, %v", p.Items, err)
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			present := make([]bool, tagsEach)
			for i := range rounds {
				k := i % tagsEach
				tag := fmt.Sprintf("w%d-%d", w, k)
				var err error
				if present[k] {
					err = r.DeleteManifest(ctx, repo, names.Reference{Tag: tag})
				} else {
					_, err = r.PutManifest(ctx, repo, names.Reference{Tag: tag}, v1.MediaTypeImageManifest, m, nil)
				}
				if err != nil {
					t.Error(err)
					return
				}
				present[k] = !present[k]
				// Acknowledged: every listing from now on must show it.
				tl, err := r.TagList(ctx, repo)
				if err != nil {
					t.Error(err)
					return
				}
				p, err := r.Tags(ctx, repo, "", -1)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range tagsEach {
					mine := fmt.Sprintf("w%d-%d", w, j)
					_, inList := slices.BinarySearch(tl.Tags, mine)
					_, inPage := slices.BinarySearch(p.Items, mine)
					if inList != present[j] || inPage != present[j] {
						t.Errorf("round %d: tag %s present=%v but TagList has it %v, Tags %v", i, mine, present[j], inList, inPage)
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	tl, err := r.TagList(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if want := tagsInKV(t, r, repo); !slices.Equal(tl.Tags, want) {
		t.Fatalf("cached list %v, kv has %v", tl.Tags, want)
	}
}

// TestTagListExclusiveInvalidates: a change made by a maintenance job on
// the repository's actor (Exclusive, as GC's repository deletion does) is
// seen by the next listing.
func TestTagListExclusiveInvalidates(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	const repo = "excl/tags"
	m := pushImage(t, r, repo, []byte("shared"))
	if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "a"}, v1.MediaTypeImageManifest, m, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if tl, err := r.TagList(ctx, repo); err != nil || !slices.Equal(tl.Tags, []string{"a", "b"}) {
		t.Fatalf("list %v, %v", tl, err)
	}
	err := r.Exclusive(ctx, repo, func(ctx context.Context) error {
		return r.kv.Update(ctx, func(tx kv.Txn) error { return tx.Delete(kv.TagKey(repo, "a")) })
	})
	if err != nil {
		t.Fatal(err)
	}
	if tl, err := r.TagList(ctx, repo); err != nil || !slices.Equal(tl.Tags, []string{"b"}) {
		t.Fatalf("after Exclusive: %v, %v", tl, err)
	}
	// Deleting the repository makes it unknown, not an empty cached list.
	err = r.Exclusive(ctx, repo, func(ctx context.Context) error {
		return r.kv.Update(ctx, func(tx kv.Txn) error {
			if err := tx.Delete(kv.TagKey(repo, "b")); err != nil {
				return err
			}
			return tx.Delete(kv.RepoKey(repo))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.TagList(ctx, repo); errcode.KindOf(err) != errcode.NameUnknown {
		t.Fatalf("deleted repository: %v, want NAME_UNKNOWN", err)
	}
}

// TestTagListPages: pages served from the cached list are the pages the
// kv scan gives.
func TestTagListPages(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	const repo = "pages/tags"
	m := pushImage(t, r, repo, []byte("shared"))
	var tags []string
	for i := range 25 {
		tags = append(tags, fmt.Sprintf("t%02d", i))
	}
	if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "latest"}, v1.MediaTypeImageManifest, m, tags); err != nil {
		t.Fatal(err)
	}
	type q struct {
		after string
		n     int
	}
	cases := []q{{"", -1}, {"", 0}, {"", 5}, {"t04", 5}, {"t045", 3}, {"t23", 5}, {"latest", 100}, {"zzz", 2}, {"a", 1}, {"t24", -1}}
	var want []Page
	for _, c := range cases {
		p, err := kv.Read(ctx, r.kv, func(tx kv.Reader) (Page, error) { return list(tx, kv.TagPrefix(repo), c.after, c.n) })
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if _, err := r.TagList(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if r.tags.current(repo) == nil {
		t.Fatal("list not cached")
	}
	for i, c := range cases {
		got, err := r.Tags(ctx, repo, c.after, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Items, want[i].Items) || got.More != want[i].More {
			t.Errorf("after %q n %d: cached %v more=%v, kv %v more=%v", c.after, c.n, got.Items, got.More, want[i].Items, want[i].More)
		}
	}
}

// TestTagListBounded: the cache never holds more than its bound, and an
// evicted list is rebuilt correctly.
func TestTagListBounded(t *testing.T) {
	const limit = 8 << 10
	r := newTestEngine(t, Options{TagCacheBytes: limit})
	ctx := context.Background()
	m := pushImage(t, r, "bound/r0", []byte("shared"))
	for i := range 40 {
		repo := fmt.Sprintf("bound/r%d", i)
		if i > 0 {
			m = pushImage(t, r, repo, []byte("shared"))
		}
		tags := make([]string, 20)
		for j := range tags {
			tags[j] = fmt.Sprintf("tag-%d-%d", i, j)
		}
		if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "latest"}, v1.MediaTypeImageManifest, m, tags); err != nil {
			t.Fatal(err)
		}
		if _, err := r.TagList(ctx, repo); err != nil {
			t.Fatal(err)
		}
		if b := r.tags.bytes.Load(); b > limit {
			t.Fatalf("after %d repositories the cache holds %d bytes, bound %d", i+1, b, limit)
		}
	}
	for i := range 40 {
		repo := fmt.Sprintf("bound/r%d", i)
		tl, err := r.TagList(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		if want := tagsInKV(t, r, repo); !slices.Equal(tl.Tags, want) {
			t.Fatalf("%s: %v, want %v", repo, tl.Tags, want)
		}
	}
}

// manifestsHeld counts the manifest cache's slots holding an entry.
func manifestsHeld(r *Registry) int {
	n := 0
	for i := range r.manifests.slots {
		if r.manifests.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// TestDropCaches: DropCaches empties the tag-list cache and its byte
// count and the manifest cache, and the next listing is rebuilt, current,
// and cached again.
func TestDropCaches(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	m := pushImage(t, r, "drop/app", []byte("drop"))
	if _, err := r.PutManifest(ctx, "drop/app", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.TagList(ctx, "drop/app"); err != nil {
		t.Fatal(err)
	}
	if r.tags.current("drop/app") == nil || r.tags.bytes.Load() == 0 {
		t.Fatal("list not cached")
	}
	if _, err := r.GetManifest(ctx, "drop/app", names.Reference{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if manifestsHeld(r) == 0 {
		t.Fatal("manifest not cached")
	}
	r.DropCaches()
	if r.tags.current("drop/app") != nil || r.tags.bytes.Load() != 0 {
		t.Fatalf("after DropCaches: cached %v, %d bytes", r.tags.current("drop/app") != nil, r.tags.bytes.Load())
	}
	if n := manifestsHeld(r); n != 0 {
		t.Fatalf("after DropCaches: %d manifests cached", n)
	}
	tl, err := r.TagList(ctx, "drop/app")
	if err != nil {
		t.Fatal(err)
	}
	if want := tagsInKV(t, r, "drop/app"); !slices.Equal(tl.Tags, want) {
		t.Fatalf("rebuilt %v, want %v", tl.Tags, want)
	}
	if r.tags.current("drop/app") != tl {
		t.Fatal("the rebuilt list is not cached")
	}
}
