package auth

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bounds failed logins. Every limit applies to one client address
// only: failures from one address never slow or refuse a login from
// another, so nobody can lock an account (the admin's included) out of
// every address by failing to log in as it. Each key has a leaky bucket:
// a failure adds one, the bucket drains Burst per Window; a full bucket
// refuses logins (429) from that address until it drains.
type Limits struct {
	// PairBurst bounds the failures for one account name from one
	// address (default 10): guessing one account's password.
	PairBurst int
	// AddrBurst bounds the failures from one address under any names
	// (default 30): spraying guesses across accounts.
	AddrBurst int
	// Window is the time to drain a full bucket (default 5 min).
	Window time.Duration
	// AddrChecks bounds the credential checks (an argon2id hash, a call
	// to MCIAS) in flight for one address (default half of GOMAXPROCS, at
	// least 1): a flood from one address holds at most that many of the
	// hashers, the others stay free for everyone else's logins, and it
	// cannot have more guesses in flight than the buckets allow. Logins
	// found in the login cache, and concurrent logins with the same
	// credentials (one check serves them all), are not counted.
	AddrChecks int
	// CheckWait is how long a check waits for its address's slot before
	// it is refused with 429 (default 5 s): a burst of different accounts
	// behind one NAT address queues briefly instead of failing.
	CheckWait time.Duration
}

func (l *Limits) defaults() {
	if l.PairBurst <= 0 {
		l.PairBurst = 10
	}
	if l.AddrBurst <= 0 {
		l.AddrBurst = 30
	}
	if l.Window <= 0 {
		l.Window = 5 * time.Minute
	}
	if l.AddrChecks <= 0 {
		l.AddrChecks = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if l.CheckWait <= 0 {
		l.CheckWait = 5 * time.Second
	}
}

// Limiter is the brute-force limiter. Buckets live in a sync.Map, each with
// its own small lock: no lock is shared between keys. The map is bounded:
// past maxBuckets, empty buckets are dropped.
//
// With a SharedFailures (replicas sharing a store), each failure is also
// added to the shared bucket, and the local bucket takes the shared level:
// a replica refuses an address once the failures on every replica fill
// its bucket, at the latest after one more failure of its own. So N
// replicas give an attacker the burst plus at most N-1, not N times the
// burst. The check of a login stays local: only failures pay a write.
type Limiter struct {
	l       Limits
	shared  SharedFailures // nil: this process's buckets only
	buckets sync.Map       // string → *bucket
	n       atomic.Int64
}

// SharedFailures is a store of failure buckets the replicas share
// (identity.Failures over PostgreSQL).
type SharedFailures interface {
	// Fail adds one failure to each bucket (buckets[i] draining rates[i]
	// failures a second) in one transaction and returns when each will
	// be empty.
	Fail(ctx context.Context, now time.Time, buckets []string, rates []float64) ([]time.Time, error)
	// Forget deletes a bucket.
	Forget(ctx context.Context, bucket string) error
}

const maxBuckets = 100_000

// sharedTimeout bounds a write of the shared buckets.
const sharedTimeout = 5 * time.Second

type bucket struct {
	mu     sync.Mutex
	level  float64
	last   time.Time
	checks chan struct{} // the address's check slots (Enter), made on first use
}

// NewLimiter returns a limiter with l (zero values take the defaults),
// sharing its failures through shared when it is not nil.
func NewLimiter(l Limits, shared SharedFailures) *Limiter {
	l.defaults()
	return &Limiter{l: l, shared: shared}
}

// drain brings b to now and returns its level. Caller holds b.mu.
func (b *bucket) drain(now time.Time, rate float64) float64 {
	if !b.last.IsZero() {
		b.level -= now.Sub(b.last).Seconds() * rate
		if b.level < 0 {
			b.level = 0
		}
	}
	b.last = now
	return b.level
}

func (l *Limiter) check(key string, burst int, now time.Time) (time.Duration, bool) {
	v, ok := l.buckets.Load(key)
	if !ok {
		return 0, false
	}
	b := v.(*bucket)
	rate := l.rate(burst)
	b.mu.Lock()
	defer b.mu.Unlock()
	level := b.drain(now, rate)
	if level+1 <= float64(burst) {
		return 0, false
	}
	return time.Duration((level + 1 - float64(burst)) / rate * float64(time.Second)), true
}

// bucketOf returns key's bucket, creating it.
func (l *Limiter) bucketOf(key string, now time.Time) *bucket {
	v, loaded := l.buckets.LoadOrStore(key, &bucket{})
	if !loaded && l.n.Add(1) > maxBuckets {
		l.prune(now)
	}
	return v.(*bucket)
}

// add counts one failure in key's bucket; with the shared bucket's empty
// time (not zero), the bucket is at least as full as the shared one.
func (l *Limiter) add(key string, burst int, now, empty time.Time) {
	b := l.bucketOf(key, now)
	rate := l.rate(burst)
	b.mu.Lock()
	b.drain(now, rate)
	b.level++
	if shared := empty.Sub(now).Seconds() * rate; shared > b.level {
		b.level = shared
	}
	b.mu.Unlock()
}

func (l *Limiter) rate(burst int) float64 { return float64(burst) / l.l.Window.Seconds() }

// prune drops the buckets that have drained empty.
func (l *Limiter) prune(now time.Time) {
	l.buckets.Range(func(k, v any) bool {
		b := v.(*bucket)
		b.mu.Lock()
		empty := now.Sub(b.last) >= l.l.Window && len(b.checks) == 0
		b.mu.Unlock()
		if empty {
			if _, ok := l.buckets.LoadAndDelete(k); ok {
				l.n.Add(-1)
			}
		}
		return true
	})
}

// pairKey is the bucket of account's failures from addr; NUL cannot
// occur in an account name or an address.
func pairKey(account, addr string) string { return "p:" + account + "\x00" + addr }

// addrKey is the bucket of addr's failures under any account.
func addrKey(addr string) string { return "r:" + addr }

// Blocked reports whether a login for account from addr must be refused,
// and how long until it would not be.
func (l *Limiter) Blocked(account, addr string, now time.Time) (time.Duration, bool) {
	wp, bp := l.check(pairKey(account, addr), l.l.PairBurst, now)
	wr, br := l.check(addrKey(addr), l.l.AddrBurst, now)
	return max(wp, wr), bp || br
}

// Fail counts a failed login, in the shared buckets too when there are
// some. If they cannot be written (the store is down), the failure counts
// here only.
func (l *Limiter) Fail(ctx context.Context, account, addr string, now time.Time) {
	keys := []string{pairKey(account, addr), addrKey(addr)}
	bursts := []int{l.l.PairBurst, l.l.AddrBurst}
	empty := make([]time.Time, len(keys))
	if l.shared != nil {
		// Not cut short by the client going away: a guesser must not
		// skip the count by hanging up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
		defer cancel()
		if e, err := l.shared.Fail(ctx, now, keys, []float64{l.rate(bursts[0]), l.rate(bursts[1])}); err == nil {
			empty = e
		}
	}
	for i, k := range keys {
		l.add(k, bursts[i], now, empty[i])
	}
}

// Enter admits one credential check from addr, waiting (at most
// Limits.CheckWait, or until ctx ends) while addr has Limits.AddrChecks in
// flight; it refuses when the wait runs out. The caller calls leave when
// the check is done.
func (l *Limiter) Enter(ctx context.Context, addr string, now time.Time) (leave func(), ok bool) {
	b := l.bucketOf(addrKey(addr), now)
	b.mu.Lock()
	if b.checks == nil {
		b.checks = make(chan struct{}, l.l.AddrChecks)
	}
	slots := b.checks
	b.mu.Unlock()
	leave = func() { <-slots }
	select {
	case slots <- struct{}{}:
		return leave, true
	default:
	}
	t := time.NewTimer(l.l.CheckWait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return leave, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// Succeed forgets account's failures from addr: its owner got in from
// there. The address's failures stay, so one good account does not unlock
// spraying others. The shared bucket is deleted only by a replica that
// saw failures of the pair, so that the successful logins of every
// request write nothing; elsewhere it drains on its own.
func (l *Limiter) Succeed(ctx context.Context, account, addr string) {
	if _, ok := l.buckets.LoadAndDelete(pairKey(account, addr)); ok {
		l.n.Add(-1)
		if l.shared != nil {
			_ = l.shared.Forget(ctx, pairKey(account, addr)) // it drains anyway
		}
	}
}
