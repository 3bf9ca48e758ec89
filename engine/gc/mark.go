package gc

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// refs is what garbage collection reads of a stored manifest: the digests
// it references. It is decoded leniently (unknown fields and media types
// are ignored) on purpose: the manifest was validated when it was pushed,
// and a later, stricter validator must never make GC blind to what an old
// manifest references. Every layer counts, non-distributable ones
// included: if such a blob was pushed, it is referenced.
type refs struct {
	Config    *ref  `json:"config"`
	Layers    []ref `json:"layers"`
	Blobs     []ref `json:"blobs"` // the withdrawn OCI artifact manifest
	Manifests []ref `json:"manifests"`
	Subject   *ref  `json:"subject"`
}

type ref struct {
	Digest string `json:"digest"`
}

// parseRefs decodes the references of a manifest payload.
func parseRefs(payload []byte) (refs, error) {
	var r refs
	if err := json.Unmarshal(payload, &r); err != nil {
		return r, fmt.Errorf("gc: undecodable manifest: %w", err)
	}
	return r, nil
}

// blobs calls fn with every blob digest the manifest references.
func (r refs) blobs(fn func(string)) {
	if r.Config != nil && r.Config.Digest != "" {
		fn(r.Config.Digest)
	}
	for _, l := range r.Layers {
		if l.Digest != "" {
			fn(l.Digest)
		}
	}
	for _, b := range r.Blobs {
		if b.Digest != "" {
			fn(b.Digest)
		}
	}
}

// children returns the child manifest digests of an index.
func (r refs) children() []string {
	if len(r.Manifests) == 0 {
		return nil
	}
	out := make([]string, 0, len(r.Manifests))
	for _, m := range r.Manifests {
		if m.Digest != "" {
			out = append(out, m.Digest)
		}
	}
	return out
}

// node is what the liveness walk needs of one manifest of a repository.
type node struct {
	created  int64    // unix nanoseconds
	subject  string   // digest of the subject, "" when none
	children []string // child manifests of an index
}

// liveRule is the rule manifests are judged live by: the untagged
// setting and the grace period (not an access rule of engine/policy).
type liveRule struct {
	deleteUntagged bool
	cutoff         int64 // manifests created at or after it are young (unix ns)
}

// live returns the manifests of one repository that must stay, given its
// manifests and the digests its tags point at:
//
//   - with deleteUntagged off, every manifest;
//   - otherwise the roots: tagged manifests and young ones (created at or
//     after cutoff: an untagged manifest gets the grace period, so that an
//     index's children, pushed before it, and a referrer waiting for its
//     subject survive the push), and then, transitively, the children of a
//     live index and the referrers of a live subject.
//
// A manifest whose subject is absent from the repository is live only as a
// root. live never returns a digest that is not in nodes.
func live(nodes map[string]node, tagged []string, p liveRule) map[string]bool {
	keep := make(map[string]bool, len(nodes))
	if !p.deleteUntagged {
		for d := range nodes {
			keep[d] = true
		}
		return keep
	}
	referrers := map[string][]string{}
	var queue []string
	push := func(d string) {
		if _, ok := nodes[d]; ok && !keep[d] {
			keep[d] = true
			queue = append(queue, d)
		}
	}
	for d, n := range nodes {
		if n.subject != "" {
			referrers[n.subject] = append(referrers[n.subject], d)
		}
		if n.created >= p.cutoff {
			push(d)
		}
	}
	for _, d := range tagged {
		push(d)
	}
	for len(queue) > 0 {
		d := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range nodes[d].children {
			push(c)
		}
		for _, r := range referrers[d] {
			push(r)
		}
	}
	return keep
}

// markSet is the set of live blob digests. Keys are the binary digest
// (algorithm initial + raw hash bytes), about half the size of the text
// form: the mark set is the one structure that grows with the registry.
type markSet map[string]struct{}

func markKey(d string) string {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || alg == "" {
		return d
	}
	raw, err := hex.DecodeString(enc)
	if err != nil {
		return d // not hex: keep the text, still a unique key
	}
	return alg[:1] + string(raw)
}

func (m markSet) has(d string) bool { _, ok := m[markKey(d)]; return ok }

// usedCache remembers, across runs, the mark keys of the blobs each
// manifest uses, by manifest digest: a manifest's bytes never change under
// its digest, and decoding every manifest's JSON on every run was most of
// the mark phase. It is bounded by a count and starts over when full.
type usedCache struct {
	mu sync.Mutex
	m  map[string][]string
}

// drop forgets every manifest: the next run decodes each one again.
func (c *usedCache) drop() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// usedCacheMax bounds the manifests remembered: about 64 MiB for images
// of a handful of blobs.
const usedCacheMax = 1 << 18

// keys returns the mark keys of the blobs manifest d uses (payload is
// its stored record, decoded only on a miss), its own key included: the
// manifest's bytes may also have been pushed as a blob (some clients do),
// and that blob is kept while the manifest lives.
func (c *usedCache) keys(d string, record []byte) ([]string, error) {
	c.mu.Lock()
	ks, ok := c.m[d]
	c.mu.Unlock()
	if ok {
		return ks, nil
	}
	rec, err := kv.DecodeManifest(record)
	if err != nil {
		return nil, err
	}
	refs, err := parseRefs(rec.Payload)
	if err != nil {
		return nil, err
	}
	refs.blobs(func(b string) { ks = append(ks, markKey(b)) })
	ks = append(ks, markKey(d))
	c.mu.Lock()
	if c.m == nil || len(c.m) >= usedCacheMax {
		c.m = make(map[string][]string)
	}
	c.m[d] = ks
	c.mu.Unlock()
	return ks, nil
}

// markRepo marks the blobs of repo's manifests and removes the links of
// repo that none of its manifests uses and that are older than the grace
// period, and links to blobs without a record.
func (r *run) markRepo(t kv.Reader, repo string, marks markSet) error {
	var dead map[string]string
	if r.dry {
		// A real run deleted these before the snapshot; a dry run must not
		// count their blobs as live.
		var err error
		if dead, err = deadManifests(t, repo, r.liveRule()); err != nil {
			return err
		}
	}
	used := map[string]struct{}{} // markKeys of the blobs repo's manifests use
	prefix := kv.ManifestPrefix(repo)
	manifests := 0
	err := t.Scan(prefix, nil, func(k, v []byte) error {
		d := kv.Suffix(k, prefix)
		if _, ok := dead[d]; ok {
			return nil
		}
		keys, err := r.c.used.keys(d, v)
		if err != nil {
			return err
		}
		manifests++
		for _, k := range keys {
			used[k] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k := range used {
		marks[k] = struct{}{}
	}
	r.count(func(rep *Report) { rep.Manifests += manifests })

	var cands []linkCandidate
	lprefix := kv.LinkPrefix(repo)
	err = t.ScanKeys(lprefix, nil, func(k []byte) error {
		d := kv.Suffix(k, lprefix)
		if _, ok := used[markKey(d)]; !ok {
			cands = append(cands, linkCandidate{digest: d})
		}
		return nil
	})
	if err != nil {
		return err
	}
	keep := cands[:0]
	for _, c := range cands {
		rec, err := kv.GetRecord(t, kv.BlobKey(c.digest), kv.DecodeBlob)
		if errors.Is(err, kv.ErrNotFound) {
			c.dangling = true
			keep = append(keep, c)
			continue
		}
		if err != nil {
			return err
		}
		if rec.Created < r.cutoff && rec.LastLinked < r.cutoff {
			c.rec = rec
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if r.dry {
		for _, c := range keep {
			r.count(func(rep *Report) {
				if c.dangling {
					rep.DanglingLinks++
				} else {
					rep.UnusedLinks++
				}
			})
		}
		return nil
	}
	_, err = r.exclusive(repo, func(ctx context.Context) error { return r.unlink(ctx, repo, keep) })
	return err
}
