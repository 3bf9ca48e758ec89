package gc

import (
	"encoding/hex"
	"encoding/json"
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

// policy is how manifests are judged live.
type policy struct {
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
func live(nodes map[string]node, tagged []string, p policy) map[string]bool {
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

func (m markSet) add(d string)      { m[markKey(d)] = struct{}{} }
func (m markSet) has(d string) bool { _, ok := m[markKey(d)]; return ok }

// usedCache remembers, across runs, the mark keys of the blobs each
// manifest uses, by manifest digest: a manifest's bytes never change under
// its digest, and decoding every manifest's JSON on every run was most of
// the mark phase. It is bounded by a count and starts over when full.
type usedCache struct {
	mu sync.Mutex
	m  map[string][]string
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
