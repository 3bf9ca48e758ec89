package kv

import (
	"context"
	"slices"
)

// The functions below are the access patterns every user of the port
// repeats: a value read out of a snapshot, one record read and decoded
// (from a snapshot or inside a transaction), every record under a prefix
// decoded, and the keys under a prefix deleted by a predicate.

// Viewer is the read half of a Store: what a reader of one snapshot needs.
type Viewer interface {
	View(ctx context.Context, fn func(Reader) error) error
}

// Read runs fn against one snapshot of v and returns what fn read. It
// spares each caller the variable declared outside the closure and
// assigned inside it; the value is meaningful only when the error is nil.
func Read[T any](ctx context.Context, v Viewer, fn func(Reader) (T, error)) (T, error) {
	var out T
	err := v.View(ctx, func(t Reader) error {
		var err error
		out, err = fn(t)
		return err
	})
	return out, err
}

// Load reads the record at key from one snapshot of v and decodes it;
// a missing key is ErrNotFound. On PostgreSQL that is one statement
// (ReadKeys).
func Load[T any](ctx context.Context, v Viewer, key []byte, decode func([]byte) (T, error)) (T, error) {
	vs, err := ReadKeys(ctx, v, key)
	if err == nil && vs[0] == nil {
		err = ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(vs[0])
}

// GetRecord reads the record at key in t and decodes it; a missing key is
// ErrNotFound, with the zero record, so that a caller for whom absent means
// empty can go on with it. It is Load inside a transaction.
func GetRecord[T any](t Reader, key []byte, decode func([]byte) (T, error)) (T, error) {
	v, err := t.Get(key)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(v)
}

// ScanRecords decodes, in key order, every record under prefix in t.
func ScanRecords[T any](t Reader, prefix []byte, decode func([]byte) (T, error)) ([]T, error) {
	var out []T
	err := t.Scan(prefix, nil, func(_, v []byte) error {
		r, err := decode(v)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// LoadAll is ScanRecords in one snapshot of v.
func LoadAll[T any](ctx context.Context, v Viewer, prefix []byte, decode func([]byte) (T, error)) ([]T, error) {
	return Read(ctx, v, func(t Reader) ([]T, error) { return ScanRecords(t, prefix, decode) })
}

// DeleteWhere deletes, in t, every key under prefix whose entry match
// accepts, and returns how many it deleted. The keys are collected during
// the scan and deleted after it, because a Scan callback's key is valid
// only during the call and the scan must not see its own deletes.
func DeleteWhere(t Txn, prefix []byte, match func(key, val []byte) bool) (int, error) {
	var keys [][]byte
	err := t.Scan(prefix, nil, func(k, v []byte) error {
		if match(k, v) {
			keys = append(keys, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := DeleteKeys(t, keys); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// DeleteKeys deletes keys in t: the second half of a scan that collected
// them, since a scan must not see its own deletes.
func DeleteKeys(t Txn, keys [][]byte) error {
	for _, k := range keys {
		if err := t.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
