package identity

import (
	"context"
	"errors"
	"sync"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Failures keeps failed-login buckets in the metadata store, so that
// replicas sharing it (PostgreSQL) share the brute-force limits of
// http/auth's Limiter: behind N replicas an address gets the configured
// burst, not N times it. Only failures write (one small transaction per
// failed login); a login that succeeds or is refused reads nothing.
//
// A bucket is one record, the time it drains empty (kv.FailureRecord):
// adding a failure to a bucket draining rate failures a second moves that
// time 1/rate later, from now if it was already empty. Drained records are
// deleted by a sweep that every sweepEvery-th failure of a process runs in
// its own transaction, a page at a time round the namespace, so the
// records never outnumber the recent failures by much.
type Failures struct {
	kv kv.Store

	mu     sync.Mutex
	adds   int    // failures recorded, for the sweep's cadence
	cursor []byte // where the next sweep starts; nil from the top
}

// How often, and how much, Failures sweeps drained buckets: each sweep
// can remove more records than the failures in between created (at most
// two each), so drained records are collected while failures go on.
const (
	sweepEvery = 8
	sweepPage  = 64
)

// NewFailures returns the failed-login buckets in store.
func NewFailures(store kv.Store) *Failures { return &Failures{kv: store} }

// Fail adds one failure to each bucket (buckets[i] draining rates[i]
// failures a second) in one transaction, and returns when each will be
// empty.
func (f *Failures) Fail(ctx context.Context, now time.Time, buckets []string, rates []float64) ([]time.Time, error) {
	empty := make([]time.Time, len(buckets))
	err := f.kv.Update(ctx, func(t kv.Txn) error {
		for i, b := range buckets {
			rec, err := kv.GetRecord(t, kv.FailureKey(b), kv.DecodeFailure)
			if err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
			from := max(rec.Empty, now.UnixNano())
			rec.Empty = from + int64(float64(time.Second)/rates[i])
			if err := t.Set(kv.FailureKey(b), rec.Encode()); err != nil {
				return err
			}
			empty[i] = time.Unix(0, rec.Empty)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.adds++
	sweep := f.adds%sweepEvery == 0
	f.mu.Unlock()
	if sweep {
		_ = f.sweep(ctx, now) // best effort: the next sweep retries
	}
	return empty, nil
}

// Forget deletes bucket: its owner logged in.
func (f *Failures) Forget(ctx context.Context, bucket string) error {
	return f.kv.Update(ctx, func(t kv.Txn) error { return t.Delete(kv.FailureKey(bucket)) })
}

// sweep deletes the drained buckets among the next sweepPage records.
func (f *Failures) sweep(ctx context.Context, now time.Time) error {
	f.mu.Lock()
	after := f.cursor
	f.mu.Unlock()
	var next []byte
	err := f.kv.Update(ctx, func(t kv.Txn) error {
		next = nil
		var drained [][]byte
		n, prev := 0, ""
		err := t.Scan(kv.FailurePrefix(), after, func(k, v []byte) error {
			if n++; n > sweepPage {
				// A full page: the next sweep goes on after its last key.
				next = []byte(prev)
				return kv.ErrStop
			}
			prev = kv.Suffix(k, kv.FailurePrefix())
			if rec, err := kv.DecodeFailure(v); err != nil || rec.Empty <= now.UnixNano() {
				drained = append(drained, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return kv.DeleteKeys(t, drained)
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.cursor = next // nil at the end: the next sweep starts from the top
	f.mu.Unlock()
	return nil
}
