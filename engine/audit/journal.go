package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Options configures a Journal. The zero value is usable.
type Options struct {
	// Queue bounds the events waiting to be written (default 4096). A full
	// queue sheds: see Journal.
	Queue int
	// Batch bounds the events written in one transaction (default 256).
	Batch int
	// Now is the clock for events recorded without a time; nil is time.Now.
	Now func() time.Time
	// OnError is told when a batch could not be written; nil ignores it
	// (Stats still counts the lost events).
	OnError func(err error, events int)
}

// Journal is the durable audit log: a Recorder that appends events to the
// metadata store under e/, each one hash-chained to the one before it.
//
// Record never waits for the disk. It puts the event on a bounded queue
// that one writer goroutine drains, writing whatever has accumulated (up
// to Options.Batch) in one transaction: under load many events share one
// fsync. When the queue is full the event is dropped and counted, and the
// writer appends an audit_shed event with the count as soon as it can: a
// request is never slowed down by the audit log, at the price that a flood
// of events (a credential-stuffing burst, say) can lose some of them, and
// the log says so. Close flushes what is queued.
type Journal struct {
	store kv.Store
	o     Options

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	q      chan Event
	done   chan struct{}

	// woken is closed (and replaced) after each committed batch: Follow
	// waits on it.
	wmu   sync.Mutex
	woken chan struct{}

	unwatch func() // ends the watch for other processes' batches

	shed    atomic.Uint64 // dropped since the last audit_shed event
	dropped atomic.Uint64
	written atomic.Uint64
	failed  atomic.Uint64

	prunedAge, prunedCap atomic.Uint64 // deleted by retention, this run

	// Followers parked in Follow waiting for a commit, now and in all:
	// what a caller (a test, an operator) can observe to know a follower
	// is attached before it writes what the follower waits for.
	following atomic.Int64
	parked    atomic.Uint64
}

var _ Recorder = (*Journal)(nil)

// Open starts a Journal over store. The caller closes it (Close) before
// closing the store.
func Open(store kv.Store, o Options) *Journal {
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	j := &Journal{store: store, o: o, q: make(chan Event, o.Queue), done: make(chan struct{}), woken: make(chan struct{})}
	j.unwatch = func() {}
	if c, ok := store.(kv.Changes); ok {
		// Batches other replicas commit wake this one's followers too.
		j.unwatch = c.Watch(func(topic string) {
			if topic == Topic || topic == "" {
				j.wake()
			}
		})
	}
	go j.run()
	return j
}

// Topic is what each committed batch publishes (kv.Publish), so that the
// followers (Follow) of every process sharing the store wake up.
const Topic = "audit"

// Record queues e, or drops it when the queue is full or the journal is
// closed. It never blocks.
func (j *Journal) Record(_ context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = j.o.Now()
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		j.dropped.Add(1)
		return
	}
	select {
	case j.q <- e:
	default:
		j.dropped.Add(1)
		j.shed.Add(1)
	}
}

// Stats are the journal's counters.
type Stats struct {
	Written uint64 // events committed
	Dropped uint64 // events shed (queue full, or recorded after Close)
	Failed  uint64 // events lost to a failed write
	Queued  int    // events waiting now
	// Deleted by retention in this run: too old, and beyond the count or
	// size cap.
	PrunedAge, PrunedCap uint64
	// Following is how many Follow calls wait for a commit now; Parked
	// counts every time one started waiting.
	Following int
	Parked    uint64
}

// Stats returns the counters.
func (j *Journal) Stats() Stats {
	return Stats{Written: j.written.Load(), Dropped: j.dropped.Load(), Failed: j.failed.Load(), Queued: len(j.q),
		PrunedAge: j.prunedAge.Load(), PrunedCap: j.prunedCap.Load(),
		Following: int(j.following.Load()), Parked: j.parked.Load()}
}

// Close stops accepting events and waits, bounded by ctx, until the ones
// queued are written.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	if !j.closed {
		j.closed = true
		close(j.q)
	}
	j.mu.Unlock()
	select {
	case <-j.done:
		j.unwatch()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: flushing the queue: %w", ctx.Err())
	}
}

// run is the writer: the only goroutine that appends to the chain.
func (j *Journal) run() {
	defer close(j.done)
	batch := make([]Event, 0, j.o.Batch)
	for e := range j.q {
		batch = append(batch[:0], e)
	fill:
		for len(batch) < j.o.Batch {
			select {
			case e, ok := <-j.q:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		if n := j.shed.Swap(0); n > 0 {
			batch = append(batch, Event{Time: j.o.Now(), Kind: Shed, Outcome: "failure",
				Detail: fmt.Sprintf("%d audit events dropped: queue full", n)})
		}
		j.write(batch)
	}
	if n := j.shed.Swap(0); n > 0 {
		j.write([]Event{{Time: j.o.Now(), Kind: Shed, Outcome: "failure",
			Detail: fmt.Sprintf("%d audit events dropped: queue full", n)}})
	}
}

func (j *Journal) write(batch []Event) {
	// Not the request's context: the requests that caused these events
	// may be long gone, and the events must still be written.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := j.store.Update(ctx, func(t kv.Txn) error { return appendEvents(t, batch) })
	if err != nil {
		j.failed.Add(uint64(len(batch)))
		if j.o.OnError != nil {
			j.o.OnError(err, len(batch))
		}
		return
	}
	j.written.Add(uint64(len(batch)))
	j.wake()
}

// wake releases the followers waiting for the next batch.
func (j *Journal) wake() {
	j.wmu.Lock()
	close(j.woken)
	j.woken = make(chan struct{})
	j.wmu.Unlock()
}

// Written returns a channel closed when the next batch of events is
// committed, by this process or, on a store with kv.Changes, any other.
func (j *Journal) Written() <-chan struct{} {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	return j.woken
}

// record is the stored form of an event. Its exact bytes are what the
// next event's Prev hashes, so it is written once and never re-encoded.
type record struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Kind        Kind      `json:"kind"`
	AccountID   string    `json:"account_id,omitempty"`
	AccountName string    `json:"account,omitempty"`
	AccountType string    `json:"account_type,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Action      string    `json:"action,omitempty"`
	Repository  string    `json:"repository,omitempty"`
	Digest      string    `json:"digest,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	// Count is how many occurrences an aggregated event stands for
	// (Aggregator); absent for a single one, so events written before
	// aggregation existed keep their exact bytes.
	Count uint64 `json:"count,omitempty"`
	// Prev is the hex SHA-256 of the previous event's stored bytes; "" for
	// the first event ever written.
	Prev string `json:"prev"`
}

func (r record) event() Event {
	return Event{Time: r.Time, Kind: r.Kind, AccountID: r.AccountID, AccountName: r.AccountName, AccountType: r.AccountType,
		Remote: r.Remote, Action: r.Action, Repository: r.Repository, Digest: r.Digest, Outcome: r.Outcome, Detail: r.Detail,
		Count: max(r.Count, 1)}
}

// head is the state of the chain, stored at kv.AuditHeadKey.
type head struct {
	First    uint64 `json:"first"`     // seq of the oldest event kept (Last+1 when none)
	Last     uint64 `json:"last"`      // seq of the newest event (0 before the first)
	LastTime int64  `json:"last_time"` // unix nanoseconds in the newest event's key
	LastHash string `json:"last_hash"` // hex SHA-256 of the newest event's bytes
	// Bytes is the size of the events kept, keys and values: what
	// Retention.MaxBytes caps. It is exact only when Sized; a head written
	// before it existed is sized by the first Prune that needs it.
	Bytes uint64 `json:"bytes,omitempty"`
	Sized bool   `json:"sized,omitempty"`
}

var errCorrupt = errors.New("audit: corrupt chain head")

func readHead(t kv.Reader) (head, error) {
	b, err := t.Get(kv.AuditHeadKey())
	if errors.Is(err, kv.ErrNotFound) {
		return head{First: 1, Sized: true}, nil
	}
	if err != nil {
		return head{}, err
	}
	var h head
	if err := json.Unmarshal(b, &h); err != nil {
		return head{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return h, nil
}

func writeHead(t kv.Txn, h head) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return t.Set(kv.AuditHeadKey(), b)
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// appendEvents chains batch after the head in t. The key's time never goes
// back even if the clock does, so key order stays append order; the
// event keeps the time it was recorded with.
func appendEvents(t kv.Txn, batch []Event) error {
	h, err := readHead(t)
	if err != nil {
		return err
	}
	for _, e := range batch {
		r := record{Seq: h.Last + 1, Time: e.Time.UTC(), Kind: e.Kind, AccountID: e.AccountID, AccountName: e.AccountName,
			AccountType: e.AccountType, Remote: e.Remote, Action: e.Action, Repository: e.Repository, Digest: e.Digest,
			Outcome: e.Outcome, Detail: e.Detail, Prev: h.LastHash}
		if e.Count > 1 {
			r.Count = e.Count
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		at := max(e.Time.UnixNano(), h.LastTime, 0)
		key := kv.AuditKey(at, r.Seq)
		if err := t.Set(key, b); err != nil {
			return err
		}
		h.Last, h.LastTime, h.LastHash = r.Seq, at, hashOf(b)
		h.Bytes += uint64(len(key) + len(b))
	}
	if err := writeHead(t, h); err != nil {
		return err
	}
	return kv.Publish(t, Topic)
}
