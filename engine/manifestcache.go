package engine

import (
	"context"
	"hash/maphash"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// The manifest cache. A pull by tag reads the tag, then the manifest it
// names, and decodes the manifest's record: the second lookup, the copy
// of the record out of Badger and the decode were a tenth of the server's
// CPU per manifest GET (docs/benchmarks.md, "Where mcr's CPU goes on a
// manifest GET"). Pulls ask for the same few manifests over and over, so
// decoded manifests are kept, keyed by repository and digest.
//
// What a GET still reads from its snapshot: the tag (by tag), or the
// manifest's key without its value (by digest), so a tag moved or a
// manifest deleted is seen exactly as without the cache. What the cache
// answers is the record under a digest, which is the same bytes while it
// exists but whose media type a second push of the same bytes may change
// (a manifest without a mediaType field takes the push's Content-Type).
// So an entry is labelled, like a cached tag list (taglist.go), with the
// repository's in-memory generation read before the snapshot it came
// from, and served only while that generation has not moved: every
// mutation of the repository bumps it after its commit and before it is
// acknowledged. A store other processes write (kv.Changes.Shared) has no
// cache, since their mutations never bump this process's generation; nor
// has PostgreSQL, whose reads are statements (kv.ChainedReads).
//
// Bounded memory, no lock: a fixed array of slots, each holding one entry
// behind an atomic pointer, picked by a hash of repository and digest (a
// collision evicts, never serves, the other entry); manifests larger than
// manifestCacheMax are not kept, so the cache holds at most
// manifestSlots × manifestCacheMax bytes of payload (8 MiB) and, with
// typical manifests of one or two KiB, about 1 MiB.

const (
	manifestSlots    = 512
	manifestCacheMax = 16 << 10
)

var manifestSeed = maphash.MakeSeed()

// manifestEntry is one cached manifest of repo, read at generation gen.
type manifestEntry struct {
	repo string
	gen  uint64
	m    *Manifest
}

type manifestCache struct {
	slots [manifestSlots]atomic.Pointer[manifestEntry]
}

func (c *manifestCache) slot(repo string, d digest.Digest) *atomic.Pointer[manifestEntry] {
	h := maphash.String(manifestSeed, repo) ^ maphash.String(manifestSeed, string(d))
	return &c.slots[h%manifestSlots]
}

// drop empties every slot.
func (c *manifestCache) drop() {
	for i := range c.slots {
		c.slots[i].Store(nil)
	}
}

// get returns manifest d of repo if it was cached at generation gen.
func (c *manifestCache) get(repo string, d digest.Digest, gen uint64) *Manifest {
	e := c.slot(repo, d).Load()
	if e == nil || e.gen != gen || e.m.Digest != d || e.repo != repo {
		return nil
	}
	return e.m
}

// put caches m, read from repo in a snapshot taken after generation gen
// was read.
func (c *manifestCache) put(repo string, gen uint64, m *Manifest) {
	if len(m.Payload) > manifestCacheMax {
		return
	}
	c.slot(repo, m.Digest).Store(&manifestEntry{repo: repo, gen: gen, m: m})
}

// cachedManifest reads manifest d of repo in t through the cache, gen
// being repo's generation read before t's snapshot: a hit costs t a
// lookup of the manifest's key without its value (or none when the
// caller has just read a tag naming d: present says so).
func (r *Registry) cachedManifest(t kv.Reader, repo string, d digest.Digest, gen uint64, present bool) (*Manifest, error) {
	if m := r.manifests.get(repo, d, gen); m != nil {
		if present {
			return m, nil
		}
		ok, err := t.Has(kv.ManifestKey(repo, d.String()))
		if err != nil {
			return nil, err
		}
		if ok {
			return m, nil
		}
	}
	m, err := r.readManifest(t, repo, d)
	if err == nil {
		r.manifests.put(repo, gen, m)
	}
	return m, err
}

// getCachedManifest is GetManifest through the cache: one snapshot that
// reads the tag (by tag), then the manifest through cachedManifest.
func (r *Registry) getCachedManifest(ctx context.Context, repo string, ref names.Reference) (*Manifest, error) {
	// Read before the snapshot is taken (see the comment at the top).
	gen := r.tags.generation(repo)
	return kv.Read(ctx, r.kv, func(t kv.Reader) (*Manifest, error) {
		if ref.IsDigest() {
			return r.cachedManifest(t, repo, ref.Digest, gen, false)
		}
		v, err := t.Get(kv.TagKey(repo, ref.Tag))
		if err != nil {
			return nil, r.unknown(t, repo, err, tagUnknown(ref.Tag))
		}
		return r.cachedManifest(t, repo, digest.Digest(v), gen, true)
	})
}
