package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// Retention says which events to keep; zero fields keep everything.
type Retention struct {
	MaxAge   time.Duration // delete events older than this
	MaxCount uint64        // keep at most this many of the newest events
}

// JobRetention is the job kind of Journal.RetentionJob.
const JobRetention = "audit-retention"

// pruneBatch bounds the deletions of one transaction.
const pruneBatch = 1000

// Prune deletes the oldest events that r does not keep, in transactions of
// a bounded size, and moves the chain's anchor (the oldest event kept) past
// them. It returns how many it deleted. It races safely with the writer:
// both write the chain head, so one of two concurrent transactions
// retries.
func Prune(ctx context.Context, store kv.Store, r Retention, now time.Time) (uint64, error) {
	if r.MaxAge <= 0 && r.MaxCount == 0 {
		return 0, nil
	}
	cutoff := now.Add(-r.MaxAge).UnixNano()
	var total uint64
	for {
		var n uint64
		err := store.Update(ctx, func(t kv.Txn) error {
			n = 0
			h, err := readHead(t)
			if err != nil {
				return err
			}
			var keys [][]byte
			next := h.Last + 1
			err = t.ScanKeys(kv.AuditPrefix(), nil, func(key []byte) error {
				kt, seq, ok := kv.ParseAuditKey(key)
				if !ok {
					return fmt.Errorf("audit: malformed key %q", key)
				}
				left := h.Last - seq + 1 // events from this one to the newest
				old := r.MaxAge > 0 && kt < cutoff
				over := r.MaxCount > 0 && left > r.MaxCount
				if (!old && !over) || len(keys) == pruneBatch {
					next = seq
					return kv.ErrStop
				}
				keys = append(keys, append([]byte(nil), key...))
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := t.Delete(k); err != nil {
					return err
				}
			}
			if len(keys) == 0 {
				return nil
			}
			h.First = next
			n = uint64(len(keys))
			return writeHead(t, h)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// Prune applies r to j's store and, when it deleted anything, records an
// audit_pruned event: retention is visible in the chain it shortens.
func (j *Journal) Prune(ctx context.Context, r Retention) (uint64, error) {
	n, err := Prune(ctx, j.store, r, j.o.Now())
	if n > 0 {
		j.Record(ctx, Event{Kind: Pruned, Outcome: "success",
			Detail: fmt.Sprintf("retention (max age %v, max count %d) deleted %d events", r.MaxAge, r.MaxCount, n)})
	}
	return n, err
}

// RetentionJob is the scheduled job that applies r every interval (0: on
// demand only), for a jobs.Runner.
func (j *Journal) RetentionJob(every time.Duration, r Retention) jobs.Job {
	return jobs.Job{Kind: JobRetention, Every: every, Run: func(ctx context.Context, _ *jobs.Progress) (string, error) {
		n, err := j.Prune(ctx, r)
		b, _ := json.Marshal(map[string]uint64{"deleted": n})
		return string(b), err
	}}
}
