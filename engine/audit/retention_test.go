package audit

import (
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"

	"context"
	"encoding/json"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// chainBytes adds up the stored events' keys and values.
func chainBytes(t *testing.T, s kv.Store) uint64 { t.Helper(); return mustRead(t, s, sizeOf) }

func headOf(t *testing.T, s kv.Store) head { t.Helper(); return mustRead(t, s, readHead) }

// mustRead is what fn reads out of one snapshot of s.
func mustRead[T any](t *testing.T, s kv.Store, fn func(kv.Reader) (T, error)) T {
	t.Helper()
	v, err := kv.Read(context.Background(), s, fn)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// filled returns a store holding n events, one a second from base.
func filled(t *testing.T, n int) (*kv.Badger, time.Time) {
	t.Helper()
	s := enginetest.Memory(t)
	base := time.Unix(1_700_000_000, 0)
	fill(t, s, base, n, event)
	return s, base
}

// verified fails the test unless the chain verifies with checked events.
func verified(t *testing.T, s kv.Store, checked uint64) {
	t.Helper()
	if rep := verify(t, s); !rep.OK() || rep.Checked != checked {
		t.Errorf("verify: %+v %+v, want %d events checked", rep, rep.Broken, checked)
	}
}

// The size cap drops the oldest events until what is kept fits, the head
// keeps an exact count of the bytes, and the chain still verifies.
func TestPruneBytes(t *testing.T) {
	ctx := context.Background()
	s, base := filled(t, 3000)
	total := chainBytes(t, s)
	if h := headOf(t, s); !h.Sized || h.Bytes != total {
		t.Fatalf("head counts %d bytes (sized %v), the chain holds %d", h.Bytes, h.Sized, total)
	}
	limit := total / 3
	n, err := Prune(ctx, s, Retention{MaxBytes: limit, MaxAge: 365 * 24 * time.Hour}, base.Add(time.Hour))
	if err != nil || n.Age != 0 || n.Cap < 1900 || n.Cap > 2100 {
		t.Fatalf("pruned %+v, %v", n, err)
	}
	kept := chainBytes(t, s)
	h := headOf(t, s)
	if kept > limit || h.Bytes != kept || limit-kept > 1000 {
		t.Errorf("kept %d bytes (head says %d), cap %d", kept, h.Bytes, limit)
	}
	verified(t, s, 3000-n.Cap)
	if rep := verify(t, s); rep.First != n.Cap+1 {
		t.Errorf("after the size cap, the anchor is %d, want %d", rep.First, n.Cap+1)
	}
}

// A head written before size accounting is sized by the first Prune with a
// size cap, and the count is exact from then on.
func TestPruneSizesLegacyHead(t *testing.T) {
	ctx := context.Background()
	s, base := filled(t, 100)
	// The head as an older build wrote it: no bytes, not sized.
	h := headOf(t, s)
	legacy, _ := json.Marshal(map[string]any{"first": h.First, "last": h.Last, "last_time": h.LastTime, "last_hash": h.LastHash})
	if err := s.Update(ctx, func(t kv.Txn) error { return t.Set(kv.AuditHeadKey(), legacy) }); err != nil {
		t.Fatal(err)
	}
	fill(t, s, base.Add(time.Hour), 10, event) // appended after the upgrade
	if n, err := Prune(ctx, s, Retention{MaxCount: 1000}, base); err != nil || n.Total() != 0 {
		t.Fatalf("count cap pruned %+v, %v", n, err)
	}
	if h := headOf(t, s); h.Sized {
		t.Fatal("sized without a size cap")
	}
	if n, err := Prune(ctx, s, Retention{MaxBytes: 1 << 30}, base); err != nil || n.Total() != 0 {
		t.Fatalf("size cap pruned %+v, %v", n, err)
	}
	if h := headOf(t, s); !h.Sized || h.Bytes != chainBytes(t, s) {
		t.Errorf("head %+v, chain %d bytes", h, chainBytes(t, s))
	}
	verified(t, s, 110)
}

// The journal counts what retention deleted, by reason.
func TestJournalPruneStats(t *testing.T) {
	ctx := context.Background()
	s, base := filled(t, 50)
	j := Open(s, Options{Now: func() time.Time { return base.Add(49*time.Second + 10*time.Second) }})
	n, err := j.Prune(ctx, Retention{MaxAge: 30 * time.Second, MaxCount: 10})
	if err != nil || n.Age != 29 || n.Cap != 11 { // events 0-28 are older than 30 s; 10 of the 21 left are kept
		t.Fatalf("pruned %+v, %v", n, err)
	}
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.PrunedAge != 29 || st.PrunedCap != 11 {
		t.Errorf("stats %+v", st)
	}
	verified(t, s, 11)
}
