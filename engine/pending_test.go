package engine

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/kv"
)

func hasUploadRecord(t *testing.T, r *Registry, id string) bool {
	t.Helper()
	ok := false
	if err := r.kv.View(context.Background(), func(tx kv.Reader) error {
		var err error
		ok, err = tx.Has(kv.UploadKey(id))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

// A POST costs no commit; the first PATCH gives the session its record
// before any byte is written; finishing removes both.
func TestPendingSessionLifecycle(t *testing.T) {
	r := newTestEngine(t, Options{})
	ctx := context.Background()
	up, err := r.StartUpload(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if hasUploadRecord(t, r, up.ID) {
		t.Fatal("POST wrote a session record")
	}
	if st, err := r.UploadStatus(ctx, "p", up.ID); err != nil || st.Offset != 0 {
		t.Fatalf("status of a pending session: %+v %v", st, err)
	}
	if _, err := r.UploadStatus(ctx, "other", up.ID); err == nil {
		t.Fatal("pending session visible from another repository")
	}
	data := []byte("hello pending world")
	if _, err := r.AppendUpload(ctx, "p", up.ID, 0, bytes.NewReader(data[:5]), 5); err != nil {
		t.Fatal(err)
	}
	if !hasUploadRecord(t, r, up.ID) {
		t.Fatal("PATCH left the session without a record")
	}
	if _, ok := r.pending.get(up.ID); ok {
		t.Fatal("recorded session still pending")
	}
	d := digest.FromBytes(data)
	if err := r.FinishUpload(ctx, "p", up.ID, d, -1, bytes.NewReader(data[5:]), int64(len(data)-5)); err != nil {
		t.Fatal(err)
	}
	if hasUploadRecord(t, r, up.ID) {
		t.Fatal("finished session kept its record")
	}

	// POST then PUT: never a record, and the session is gone afterwards.
	up2, _ := r.StartUpload(ctx, "p")
	if err := r.FinishUpload(ctx, "p", up2.ID, d, -1, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.pending.get(up2.ID); ok || hasUploadRecord(t, r, up2.ID) {
		t.Fatal("finished POST+PUT session left state behind")
	}
	// Cancel of a pending session.
	up3, _ := r.StartUpload(ctx, "p")
	if err := r.CancelUpload(ctx, "p", up3.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.loadUpload(ctx, "p", up3.ID); err == nil {
		t.Fatal("cancelled pending session still loads")
	}
}

func TestPendingBounded(t *testing.T) {
	var p pendingSessions
	now := time.Unix(1_000_000, 0)
	old := kv.UploadRecord{Repo: "r", Started: now.Add(-2 * pendingTTL).UnixNano()}
	for i := range maxPending {
		if !p.add("old"+strconv.Itoa(i), old, now) {
			t.Fatalf("refused session %d below the bound", i)
		}
	}
	// Full of stale sessions: pruning makes room.
	if !p.add("fresh", kv.UploadRecord{Repo: "r", Started: now.UnixNano()}, now) {
		t.Fatal("stale sessions were not pruned")
	}
	if n := p.n.Load(); n != 1 {
		t.Fatalf("%d sessions after pruning, want 1", n)
	}
	// Full of fresh sessions: the caller must persist instead.
	for i := range maxPending - 1 {
		p.add("new"+strconv.Itoa(i), kv.UploadRecord{Repo: "r", Started: now.UnixNano()}, now)
	}
	if p.add("overflow", kv.UploadRecord{Repo: "r", Started: now.UnixNano()}, now) {
		t.Fatal("accepted a session past the bound")
	}
	if _, ok := p.get("overflow"); ok {
		t.Fatal("refused session stored anyway")
	}
}
