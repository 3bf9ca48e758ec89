package engine

import (
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
)

// blobWriters serializes, per blob, the transactions that rewrite a blob's
// record: every link, mount and manifest commit bumps its LastLinked, which
// is what makes a concurrent GC sweep conflict (docs/design.md §5). Without this,
// many pushes sharing one base layer rewrite that layer's record at the
// same moment, and Badger's conflict detection makes all but one retry,
// again and again, until some run out of retries. With it they queue for
// the few milliseconds a commit takes. It is striped by digest, never
// global: pushes of unrelated blobs do not wait for each other.
type blobWriters struct {
	stripes [256]sync.Mutex
}

// lock takes the stripes of every digest in ascending order (so two
// callers can never hold one each and wait for the other's) and returns
// the function that releases them.
func (w *blobWriters) lock(ds ...digest.Digest) (unlock func()) {
	idx := make([]int, 0, len(ds))
	for _, d := range ds {
		idx = append(idx, stripe(d))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		w.stripes[i].Lock()
	}
	return func() {
		for _, i := range idx {
			w.stripes[i].Unlock()
		}
	}
}

// stripe maps a digest to a stripe by its first two hex digits: digests
// are uniformly distributed, so this spreads them evenly.
func stripe(d digest.Digest) int {
	enc := d.Encoded()
	if len(enc) < 2 {
		return 0
	}
	return hexValue(enc[0])<<4 | hexValue(enc[1])
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return 0
}
