package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Retention says which events to keep; zero fields keep everything. The
// age bounds how far back the log goes; the count and size caps bound its
// volume whatever the traffic, so a flood that outruns aggregation costs
// the oldest history, never the disk.
type Retention struct {
	MaxAge   time.Duration // delete events older than this
	MaxCount uint64        // keep at most this many of the newest events
	MaxBytes uint64        // keep at most this many bytes (keys and values) of the newest events
}

func (r Retention) none() bool { return r.MaxAge <= 0 && r.MaxCount == 0 && r.MaxBytes == 0 }

// PruneCount counts the events a Prune deleted, by the rule that deleted them
// (an event both too old and over a cap counts as too old).
type PruneCount struct {
	Age uint64 // older than MaxAge
	Cap uint64 // beyond MaxCount or MaxBytes
}

// Total is every event deleted.
func (p PruneCount) Total() uint64 { return p.Age + p.Cap }

// JobRetention is the job kind of Journal.RetentionJob.
const JobRetention = "audit-retention"

// pruneBatch bounds the deletions of one transaction.
const pruneBatch = 1000

// Prune deletes the oldest events that r does not keep, in transactions of
// a bounded size, and moves the chain's anchor (the oldest event kept) past
// them: the events kept still verify, the oldest one being trusted as the
// anchor. It races safely with the writer: both write the chain head, so
// one of two concurrent transactions retries.
func Prune(ctx context.Context, store kv.Store, r Retention, now time.Time) (PruneCount, error) {
	var total PruneCount
	if r.none() {
		return total, nil
	}
	cutoff := now.Add(-r.MaxAge).UnixNano()
	for {
		var n PruneCount
		err := store.Update(ctx, func(t kv.Txn) error {
			n = PruneCount{}
			h, err := readHead(t)
			if err != nil {
				return err
			}
			sized := h.Sized
			if r.MaxBytes > 0 && !h.Sized {
				if h.Bytes, err = sizeOf(t); err != nil {
					return err
				}
				h.Sized = true
			}
			var keys [][]byte
			var freed uint64
			next := h.Last + 1
			err = t.Scan(kv.AuditPrefix(), nil, func(key, val []byte) error {
				kt, seq, ok := kv.ParseAuditKey(key)
				if !ok {
					return fmt.Errorf("audit: malformed key %q", key)
				}
				left := h.Last - seq + 1 // events from this one to the newest
				old := r.MaxAge > 0 && kt < cutoff
				over := (r.MaxCount > 0 && left > r.MaxCount) || (r.MaxBytes > 0 && h.Bytes-freed > r.MaxBytes)
				if (!old && !over) || len(keys) == pruneBatch {
					next = seq
					return kv.ErrStop
				}
				if old {
					n.Age++
				} else {
					n.Cap++
				}
				keys = append(keys, append([]byte(nil), key...))
				freed += uint64(len(key) + len(val))
				return nil
			})
			if err != nil {
				return err
			}
			if err := kv.DeleteKeys(t, keys); err != nil {
				return err
			}
			if len(keys) == 0 && sized == h.Sized {
				return nil
			}
			h.First = next
			h.Bytes -= min(freed, h.Bytes)
			return writeHead(t, h)
		})
		if err != nil {
			return total, err
		}
		total.Age += n.Age
		total.Cap += n.Cap
		if n.Total() < pruneBatch {
			return total, nil
		}
	}
}

// sizeOf adds up the events' keys and values: the size of a chain whose
// head predates size accounting.
func sizeOf(t kv.Reader) (uint64, error) {
	var n uint64
	err := t.Scan(kv.AuditPrefix(), nil, func(key, val []byte) error {
		n += uint64(len(key) + len(val))
		return nil
	})
	return n, err
}

// Prune applies r to j's store, counts what it deleted (Stats) and, when it
// deleted anything, records an audit_pruned event: retention is visible in
// the chain it shortens.
func (j *Journal) Prune(ctx context.Context, r Retention) (PruneCount, error) {
	return j.prune(ctx, j.store, r)
}

func (j *Journal) prune(ctx context.Context, store kv.Store, r Retention) (PruneCount, error) {
	n, err := Prune(ctx, store, r, j.o.Now())
	j.prunedAge.Add(n.Age)
	j.prunedCap.Add(n.Cap)
	if n.Total() > 0 {
		j.Record(ctx, Event{Kind: Pruned, Outcome: "success",
			Detail: fmt.Sprintf("retention (max age %v, max count %d, max bytes %d) deleted %d events: %d by age, %d over the cap",
				r.MaxAge, r.MaxCount, r.MaxBytes, n.Total(), n.Age, n.Cap)})
	}
	return n, err
}

// RetentionJob is the scheduled job that applies r every interval (0: on
// demand only), for a jobs.Runner. Its deletions go through store: the
// journal's own, or one fenced by the leader lease (kv.Fenced) where
// replicas share it, so that only the leader prunes.
func (j *Journal) RetentionJob(every time.Duration, r Retention, store kv.Store) jobs.Job {
	return jobs.Job{Kind: JobRetention, Every: every, Run: func(ctx context.Context, _ *jobs.Progress) (string, error) {
		n, err := j.prune(ctx, store, r)
		b, _ := json.Marshal(map[string]uint64{"deleted": n.Total(), "by_age": n.Age, "over_cap": n.Cap})
		return string(b), err
	}}
}
