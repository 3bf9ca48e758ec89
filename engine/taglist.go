package engine

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// The tag-list cache. A full tag listing is a scan of every t/ key of the
// repository (about 1 µs a key in Badger) plus JSON encoding; clients
// (CI jobs looking for the latest build, mirrors) ask for it far more often
// than tags change. So each repository's whole list is kept, sorted and
// encoded, and served until the repository's next mutation.
//
// Coherence without a lock: every manifest, tag and link mutation runs on
// the repository's actor (mutate, Exclusive), which bumps the repository's
// generation after its transaction has committed and before the mutation
// is acknowledged. A list is built from a snapshot taken after reading the
// generation, labelled with it, and served only while the generation has
// not moved. So a list is never older than the last acknowledged mutation:
// that mutation's bump happened before any later read of the generation,
// hence before the snapshot a list labelled with that generation came from.
// A list built from an older snapshot carries an older generation and is
// never served again. Mutations acknowledged by other processes sharing
// the store (replicas) are covered by a generation kept in the store
// (taggen.go).
//
// Bounded memory: generations live in a fixed array of counters, striped
// by a hash of the repository name (two repositories sharing a stripe
// invalidate each other, which costs a rebuild, never correctness), and
// the lists themselves in a map whose total size is capped by evicting
// arbitrary entries.

// Tags lists repo's tags in lexical order. A page is served from the
// repository's cached tag list when one is current (see TagList); without
// one it is a seek and a scan of at most n+1 keys, and it does not fill the
// cache: paging through a repository that changes all the time should not
// make every page pay for a scan of the whole list. Items are shared and
// read-only.
func (r *Registry) Tags(ctx context.Context, repo, after string, n int) (Page, error) {
	if tl := r.cachedTags(ctx, nil, repo); tl != nil {
		return tl.page(after, n), nil
	}
	if n < 0 && after == "" {
		tl, err := r.TagList(ctx, repo)
		if err != nil {
			return Page{}, err
		}
		return Page{Items: tl.Tags}, nil
	}
	var p Page
	err := r.kv.View(ctx, func(t kv.Reader) error {
		err := mustExist(t, repo)
		if err == nil {
			p, err = list(t, kv.TagPrefix(repo), after, n)
		}
		return err
	})
	return p, err
}

// TagList is repo's whole tag list (spec: "Listing Tags" without n), also
// already encoded as the response body. It is cached per repository and
// kept coherent with the repository's actor (tagLists): a list returned
// after a tag mutation was acknowledged includes it. The result is shared:
// callers must not modify it.
func (r *Registry) TagList(ctx context.Context, repo string) (*TagList, error) {
	if tl := r.cachedTags(ctx, nil, repo); tl != nil {
		return tl, nil
	}
	// The generation is read before the snapshot is taken: the list
	// built from the snapshot then includes every mutation whose
	// generation bump happened before, and is only served while no
	// later bump has happened.
	gen := r.tags.generation(repo)
	var tags []string
	var stored uint64
	err := r.kv.View(ctx, func(t kv.Reader) error {
		if err := mustExist(t, repo); err != nil {
			return err
		}
		p, err := list(t, kv.TagPrefix(repo), "", -1)
		tags = p.Items
		if err == nil {
			stored, err = r.storedTagGeneration(t, repo)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	tl, err := newTagList(repo, tags, gen)
	if err != nil {
		return nil, err
	}
	tl.stored = stored
	r.tags.store(repo, tl)
	return tl, nil
}

// TagList is a repository's whole tag list.
type TagList struct {
	// Tags are the tags in lexical order.
	Tags []string
	// JSON is the body of GET /v2/<name>/tags/list:
	// {"name":"<repo>","tags":[...]}.
	JSON []byte
	gen  uint64
	// stored is the repository's generation in the store when the list
	// was read (taggen.go); 0 on a store only this process writes.
	stored uint64
	size   int64
}

func newTagList(repo string, tags []string, gen uint64) (*TagList, error) {
	if tags == nil {
		tags = []string{}
	}
	body, err := json.Marshal(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, tags})
	if err != nil {
		return nil, err
	}
	// Each tag costs its bytes, a string header, and its bytes again in
	// the JSON.
	size := int64(len(body)) + int64(len(tags))*16 + int64(len(repo)) + 128
	for _, t := range tags {
		size += int64(len(t))
	}
	return &TagList{Tags: tags, JSON: body, gen: gen, size: size}, nil
}

// page is the listing after after, at most n tags (n < 0: all).
func (tl *TagList) page(after string, n int) Page {
	if n == 0 {
		return Page{}
	}
	i := 0
	if after != "" {
		i, _ = slices.BinarySearch(tl.Tags, after)
		if i < len(tl.Tags) && tl.Tags[i] == after {
			i++
		}
	}
	rest := tl.Tags[i:]
	if n >= 0 && len(rest) > n {
		return Page{Items: rest[:n:n], More: true}
	}
	return Page{Items: rest}
}

const (
	tagGenStripes = 4096
	// DefaultTagCacheBytes bounds the cached tag lists: about 200 000
	// tags of typical length.
	DefaultTagCacheBytes = 32 << 20
)

var tagGenSeed = maphash.MakeSeed()

// tagLists is the cache; its zero value is usable with the default bound.
type tagLists struct {
	gens     [tagGenStripes]atomic.Uint64
	lists    sync.Map // repository → *TagList
	bytes    atomic.Int64
	limit    int64 // 0: DefaultTagCacheBytes; < 0: no caching
	evicting atomic.Bool
}

func (c *tagLists) stripe(repo string) *atomic.Uint64 {
	return &c.gens[maphash.String(tagGenSeed, repo)%tagGenStripes]
}

func (c *tagLists) generation(repo string) uint64 { return c.stripe(repo).Load() }

func (c *tagLists) max() int64 {
	if c.limit == 0 {
		return DefaultTagCacheBytes
	}
	return c.limit
}

// current returns repo's list if it is still valid.
func (c *tagLists) current(repo string) *TagList {
	v, ok := c.lists.Load(repo)
	if !ok {
		return nil
	}
	tl := v.(*TagList)
	if tl.gen != c.generation(repo) {
		return nil
	}
	return tl
}

// invalidate is called on repo's actor after each of its mutations, and
// before the mutation is acknowledged.
func (c *tagLists) invalidate(repo string) {
	c.stripe(repo).Add(1)
	if v, ok := c.lists.LoadAndDelete(repo); ok {
		c.bytes.Add(-v.(*TagList).size)
	}
}

// drop empties the cache; generations stay, so coherence is unaffected.
func (c *tagLists) drop() {
	c.lists.Range(func(k, v any) bool {
		if c.lists.CompareAndDelete(k, v) {
			c.bytes.Add(-v.(*TagList).size)
		}
		return true
	})
}

// DropCaches empties the tag-list and manifest caches. A server that has
// gone quiet (cmd/mcrsrv releases memory then) has no listing or pull to
// serve fast, and what the caches hold is live heap the collector doubles
// under load and keeps resident when idle: up to DefaultTagCacheBytes of
// lists and manifestSlots decoded manifests. The next listing of a
// repository rebuilds its list from one scan; the next pull of a manifest
// reads its record.
func (r *Registry) DropCaches() {
	r.tags.drop()
	if r.manifests != nil {
		r.manifests.drop()
	}
}

// store keeps tl for repo unless it would take more than a quarter of the
// bound, then evicts entries while the total is over the bound.
func (c *tagLists) store(repo string, tl *TagList) {
	limit := c.max()
	if limit < 0 || tl.size > limit/4 || tl.gen != c.generation(repo) {
		return
	}
	c.bytes.Add(tl.size)
	if old, ok := c.lists.Swap(repo, tl); ok {
		c.bytes.Add(-old.(*TagList).size)
	}
	if c.bytes.Load() > limit && c.evicting.CompareAndSwap(false, true) {
		c.lists.Range(func(k, v any) bool {
			if c.lists.CompareAndDelete(k, v) {
				c.bytes.Add(-v.(*TagList).size)
			}
			return c.bytes.Load() > limit*3/4
		})
		c.evicting.Store(false)
	}
}
