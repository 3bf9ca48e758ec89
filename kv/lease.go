package kv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// ErrFenced is returned by a fenced transaction (Lease.Fence, Fenced) of
// a process that no longer holds the leader lease under the term it
// acquired: another replica took over, so this one must not act. A
// request that meets it (a job trigger saved as the lead is lost) is
// answered as unavailable: the next attempt reaches the new leader's state.
var ErrFenced error = &kindError{"kv: fenced: this replica no longer holds the leader lease", "Unavailable"}

// LeaseOptions configures a Lease.
type LeaseOptions struct {
	// Name is the replica's name as operators see it (a host:port).
	Name string
	// TTL is how long a lease lasts without renewal. The holder renews
	// every TTL/3; a challenger tries as often, so a dead leader is
	// replaced at most TTL + TTL/3 after its last renewal. Default 10s.
	TTL time.Duration
	// Now is the wall clock that stamps and judges expiry; nil is
	// time.Now. Only liveness depends on clocks agreeing: safety is the
	// fence's term, checked in the store.
	Now func() time.Time
}

// Lease elects one process among those sharing a store to run the
// background jobs: a lease record (LeaseKey) holding the holder's id, a
// term that grows with every change of holder, and an expiry. It needs no
// capability beyond Store: the record is written in an ordinary
// serializable transaction, so two challengers cannot both win a term.
//
// Holding the lease is not enough to act: a holder paused past its expiry
// (SIGSTOP, a frozen VM) wakes up believing it still leads. So every
// destructive transaction of a job calls Fence first (or runs through
// Fenced), which re-reads the record inside that transaction and fails
// with ErrFenced unless it still names this process and its term. On
// PostgreSQL the read holds a key-share lock on the row and a takeover
// locks it for update first (RowLocker), so a takeover waits for the
// fenced transactions in flight and every fenced transaction that begins
// after it sees the new term; a renewal waits for none.
type Lease struct {
	store  Store
	id     string // unique to this process: a restarted replica is a new holder
	o      LeaseOptions
	single bool // the store is SingleProcess: a lease found is a dead process's

	mu      sync.Mutex
	term    int64         // the term this process holds or last held
	leading bool          // holds the lease (as of the last renewal)
	until   time.Time     // monotonic: leading ends here unless renewed
	changed chan struct{} // closed and replaced when leading changes
}

// NewLease returns a Lease on store; Run campaigns for it.
func NewLease(store Store, o LeaseOptions) *Lease {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	_, single := store.(SingleProcess)
	return &Lease{store: store, id: hex.EncodeToString(b[:]), o: o, single: single, changed: make(chan struct{})}
}

// Run campaigns until ctx ends: it takes the lease when it is free or
// expired and renews it while held, every TTL/3. On return it gives the
// lease up, so that a successor takes over at its next try instead of
// waiting for the expiry.
func (l *Lease) Run(ctx context.Context) {
	every := l.o.TTL / 3
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
		l.campaign(ctx, every)
		t.Reset(every)
	}
}

// campaign makes one attempt to take or renew the lease.
func (l *Lease) campaign(ctx context.Context, bound time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	began := time.Now()
	l.mu.Lock()
	held, term := l.leading, l.term
	l.mu.Unlock()
	var won LeaseRecord
	ok := false
	err := l.store.Update(ctx, func(t Txn) error {
		ok = false
		cur, err := readLease(t.Get)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		now := l.o.Now()
		switch {
		case held && cur.Holder == l.id && cur.Term == term:
			won = cur // renewal: same term
		case cur.Holder == "" || cur.Holder == l.id || cur.Expires <= now.UnixNano() || l.single:
			// A takeover: a new term, once the fenced transactions of
			// the previous one have ended (the row lock waits for them).
			if rl, ok := t.(RowLocker); ok {
				if _, err := rl.GetForUpdate(LeaseKey()); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			won = LeaseRecord{Holder: l.id, Term: cur.Term + 1}
		default:
			return nil // held by another replica
		}
		won.Name, won.Expires = l.o.Name, now.Add(l.o.TTL).UnixNano()
		ok = true
		return t.Set(LeaseKey(), won.Encode())
	})
	switch {
	case err == nil && ok:
		l.set(true, won.Term, began.Add(l.o.TTL))
	case err == nil:
		l.set(false, term, time.Time{})
	default:
		// The store could not be asked: keep leading until the lease
		// runs out (the fence still guards every act).
		l.mu.Lock()
		expired := l.leading && !time.Now().Before(l.until)
		l.mu.Unlock()
		if expired {
			l.set(false, term, time.Time{})
		}
	}
}

func (l *Lease) set(leading bool, term int64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.term, l.until = term, until
	if l.leading != leading {
		l.leading = leading
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

// release gives the lease up if this process holds it: its expiry is
// set to the past, so the next challenger takes it at once.
func (l *Lease) release() {
	l.mu.Lock()
	held, term := l.leading, l.term
	l.mu.Unlock()
	if !held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.o.TTL/3)
	defer cancel()
	_ = l.store.Update(ctx, func(t Txn) error {
		cur, err := readLease(t.Get)
		if err != nil || cur.Holder != l.id || cur.Term != term {
			return nil
		}
		cur.Expires = 0
		return t.Set(LeaseKey(), cur.Encode())
	})
	l.set(false, term, time.Time{})
}

// Leading reports whether this process holds the lease now, and a channel
// closed when that changes. A lease not renewed in time stops leading
// even if Run has not noticed yet (the process was paused).
func (l *Lease) Leading() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading && time.Now().Before(l.until), l.changed
}

// Term is the term this process holds or last held (0: never).
func (l *Lease) Term() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term
}

// ID is this process's holder id, unique per process.
func (l *Lease) ID() string { return l.id }

// Current reads the lease record: who leads (if Expires is still ahead).
func (l *Lease) Current(ctx context.Context) (LeaseRecord, error) {
	var rec LeaseRecord
	err := l.store.View(ctx, func(t Reader) error {
		var err error
		rec, err = readLease(t.Get)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	return rec, err
}

// Fence fails with ErrFenced unless the lease record, read inside t, names
// this process under the term it acquired. Call it first in every
// destructive transaction of a leader-only job.
func (l *Lease) Fence(t Txn) error {
	get := t.Get
	if rl, ok := t.(RowLocker); ok {
		get = rl.GetKeyShare
	}
	cur, err := readLease(get)
	if errors.Is(err, ErrNotFound) {
		return ErrFenced
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	term := l.term
	l.mu.Unlock()
	if cur.Holder != l.id || cur.Term != term {
		return ErrFenced
	}
	return nil
}

func readLease(get func([]byte) ([]byte, error)) (LeaseRecord, error) {
	v, err := get(LeaseKey())
	if err != nil {
		return LeaseRecord{}, err
	}
	return DecodeLease(v)
}

// Fenced returns store with every Update fenced by l: each transaction
// calls l.Fence before fn, and fails with ErrFenced (no retry) once
// another replica leads. Views pass through.
func Fenced(store Store, l *Lease) Store { return fenced{Store: store, l: l} }

type fenced struct {
	Store
	l *Lease
}

func (f fenced) Update(ctx context.Context, fn func(Txn) error) error {
	return f.Store.Update(ctx, func(t Txn) error {
		if err := f.l.Fence(t); err != nil {
			return err
		}
		return fn(t)
	})
}
