package gc

import (
	"context"
	"errors"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// StatusStore keeps job statuses in the metadata store under g/j/<kind>,
// so that the last result of a collection (and the fact that one was cut
// short by a restart) survives the process. It implements
// jobs.StatusStore, and jobs.SharedStatusStore: replicas sharing the store
// request runs of the leader through it and read the leader's statuses.
type StatusStore struct {
	kv    kv.Store
	lease *kv.Lease
}

var (
	_ jobs.SharedStatusStore = StatusStore{}
	_ jobs.StatusPruner      = StatusStore{}
)

// NewStatusStore returns the job status store over store. lease is the
// process's leader lease, which fences the leader's saves; nil on a store
// only this process uses.
func NewStatusStore(store kv.Store, lease *kv.Lease) StatusStore {
	return StatusStore{kv: store, lease: lease}
}

// LoadStatus implements jobs.StatusStore.
func (s StatusStore) LoadStatus(ctx context.Context, kind string) (jobs.Status, bool, error) {
	rec, err := kv.Load(ctx, s.kv, kv.JobKey(kind), kv.DecodeJob)
	if errors.Is(err, kv.ErrNotFound) {
		return jobs.Status{}, false, nil
	}
	if err != nil {
		return jobs.Status{}, false, err
	}
	return status(kind, rec), true, nil
}

// LoadStatuses implements jobs.SharedStatusStore: one scan of g/j/.
func (s StatusStore) LoadStatuses(ctx context.Context) ([]jobs.Status, error) {
	return kv.Read(ctx, s.kv, func(t kv.Reader) ([]jobs.Status, error) {
		var out []jobs.Status
		err := t.Scan(kv.JobPrefix(), nil, func(k, v []byte) error {
			rec, err := kv.DecodeJob(v)
			if err != nil {
				return err
			}
			out = append(out, status(kv.Suffix(k, kv.JobPrefix()), rec))
			return nil
		})
		return out, err
	})
}

func status(kind string, rec kv.JobRecord) jobs.Status {
	return jobs.Status{
		Kind: kind, State: jobs.State(rec.State), Started: fromNanos(rec.Started), Finished: fromNanos(rec.Finished),
		Done: rec.Done, Total: rec.Total, Note: rec.Note, LastResult: rec.LastResult, LastError: rec.LastError, Runs: rec.Runs,
	}
}

// SaveStatus implements jobs.StatusStore.
func (s StatusStore) SaveStatus(ctx context.Context, st jobs.Status) error {
	return save(ctx, s.kv, st)
}

// SaveLeaderStatus implements jobs.SharedStatusStore: the save is fenced
// by the lease.
func (s StatusStore) SaveLeaderStatus(ctx context.Context, st jobs.Status) error {
	if s.lease == nil {
		return save(ctx, s.kv, st)
	}
	return save(ctx, kv.Fenced(s.kv, s.lease), st)
}

func save(ctx context.Context, store kv.Store, st jobs.Status) error {
	rec := kv.JobRecord{
		State: string(st.State), Started: toNanos(st.Started), Finished: toNanos(st.Finished),
		Done: st.Done, Total: st.Total, Note: st.Note, LastResult: st.LastResult, LastError: st.LastError, Runs: st.Runs,
	}
	return store.Update(ctx, func(t kv.Txn) error { return t.Set(kv.JobKey(st.Kind), rec.Encode()) })
}

// PruneStatuses implements jobs.StatusPruner: one transaction over
// g/j/<prefix>, fenced by the lease like the leader's saves.
func (s StatusStore) PruneStatuses(ctx context.Context, prefix string, before time.Time) (int, error) {
	store := s.kv
	if s.lease != nil {
		store = kv.Fenced(s.kv, s.lease)
	}
	var n int
	err := store.Update(ctx, func(t kv.Txn) error {
		var err error
		n, err = kv.DeleteWhere(t, kv.JobKey(prefix), func(k, v []byte) bool {
			rec, err := kv.DecodeJob(v)
			// A record that does not decode is left as it is.
			return err == nil && status(kv.Suffix(k, kv.JobPrefix()), rec).EndedBefore(before)
		})
		return err
	})
	return n, err
}

// RequestRun implements jobs.SharedStatusStore: kind's record becomes
// Queued (its last result and counters kept) unless a run is queued or
// running.
func (s StatusStore) RequestRun(ctx context.Context, kind string) error {
	return s.kv.Update(ctx, func(t kv.Txn) error {
		rec, err := kv.GetRecord(t, kv.JobKey(kind), kv.DecodeJob)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if st := jobs.State(rec.State); st == jobs.Queued || st == jobs.Running {
			return jobs.ErrRunning
		}
		rec.State, rec.LastError = string(jobs.Queued), ""
		return t.Set(kv.JobKey(kind), rec.Encode())
	})
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
