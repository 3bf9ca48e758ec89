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
// jobs.StatusStore.
type StatusStore struct{ kv kv.Store }

var _ jobs.StatusStore = StatusStore{}

// NewStatusStore returns the job status store over store.
func NewStatusStore(store kv.Store) StatusStore { return StatusStore{kv: store} }

// LoadStatus implements jobs.StatusStore.
func (s StatusStore) LoadStatus(ctx context.Context, kind string) (jobs.Status, bool, error) {
	rec, err := kv.Load(ctx, s.kv, kv.JobKey(kind), kv.DecodeJob)
	if errors.Is(err, kv.ErrNotFound) {
		return jobs.Status{}, false, nil
	}
	if err != nil {
		return jobs.Status{}, false, err
	}
	return jobs.Status{
		Kind: kind, State: jobs.State(rec.State), Started: fromNanos(rec.Started), Finished: fromNanos(rec.Finished),
		Done: rec.Done, Total: rec.Total, Note: rec.Note, LastResult: rec.LastResult, LastError: rec.LastError, Runs: rec.Runs,
	}, true, nil
}

// SaveStatus implements jobs.StatusStore.
func (s StatusStore) SaveStatus(ctx context.Context, st jobs.Status) error {
	rec := kv.JobRecord{
		State: string(st.State), Started: toNanos(st.Started), Finished: toNanos(st.Finished),
		Done: st.Done, Total: st.Total, Note: st.Note, LastResult: st.LastResult, LastError: st.LastError, Runs: st.Runs,
	}
	return s.kv.Update(ctx, func(t kv.Txn) error { return t.Set(kv.JobKey(st.Kind), rec.Encode()) })
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
