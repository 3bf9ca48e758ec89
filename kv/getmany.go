package kv

import (
	"context"
	"errors"
)

// Reading several keys at once. On PostgreSQL every read is a round trip,
// so the engine's paths that need a few independent keys (a blob's record
// and its link, the sweep tombstone beside them) ask for them together:
// one statement instead of one per key. On Badger, where a read is a
// lookup in memory, the same calls are plain Gets.

// MultiGetter is a Reader that fetches several keys in one round trip
// (PostgreSQL's pgTxn). A Reader that wraps another forwards it (see
// engine's tagWatch), or GetMany falls back to one Get per key.
type MultiGetter interface {
	GetMany(keys ...[]byte) ([][]byte, error)
}

// GetMany reads keys in r: the value of each key in order, nil for a key
// that is absent (an empty value is a non-nil empty slice).
func GetMany(r Reader, keys ...[]byte) ([][]byte, error) {
	if m, ok := r.(MultiGetter); ok {
		return m.GetMany(keys...)
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := r.Get(k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = []byte{}
		}
		out[i] = v
	}
	return out, nil
}

// snapshotGetter is a store that reads several keys from one snapshot
// without opening a transaction: on PostgreSQL one statement, which is a
// snapshot of its own, instead of BEGIN, the reads and ROLLBACK.
type snapshotGetter interface {
	getSnapshot(ctx context.Context, keys [][]byte) ([][]byte, error)
}

// ReadKeys reads keys from one consistent snapshot of v, as GetMany in a
// View would, in a single round trip where the store can.
func ReadKeys(ctx context.Context, v Viewer, keys ...[]byte) ([][]byte, error) {
	if s, ok := v.(snapshotGetter); ok {
		return s.getSnapshot(ctx, keys)
	}
	return Read(ctx, v, func(r Reader) ([][]byte, error) { return GetMany(r, keys...) })
}

// ChainedReads reports whether a path that reads a chain of keys (a tag,
// then the manifest it names) does best reading them in one View: true
// where a snapshot is a lookup in memory and costs no round trip
// (Badger), so that one View skips the second snapshot and every key the
// answer does not need; false where ReadKeys makes each step one
// statement (PostgreSQL) and a View would add its BEGIN and ROLLBACK.
func ChainedReads(v Viewer) bool {
	_, ok := v.(snapshotGetter)
	return !ok
}
