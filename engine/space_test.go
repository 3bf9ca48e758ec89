package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// budgetSpace admits writes while its budget of bytes lasts: a disk with
// budget bytes above its floor (negative: below it). Admitted bytes are
// spent.
type budgetSpace struct{ left atomic.Int64 }

func (s *budgetSpace) Admit(need int64) error {
	if s.left.Add(-need) < 0 {
		s.left.Add(need)
		return errcode.New(errcode.InsufficientStorage, "below the floor")
	}
	return nil
}

func isInsufficient(err error) bool { return errcode.KindOf(err) == errcode.InsufficientStorage }

// Below the floor, writes that add data are refused before they start,
// an upload that crosses the floor mid-stream is refused and its session
// stays as it was, and reads and deletes go on.
func TestSpaceFloor(t *testing.T) {
	pool := jobs.NewPool(2, 2)
	defer pool.Close()
	space := &budgetSpace{}
	space.left.Store(1 << 30)
	r := newTestEngine(t, Options{Streamer: pool, Space: space})
	ctx := context.Background()
	m := pushImage(t, r, "a", []byte("shared"))
	if _, err := r.PutManifest(ctx, "a", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil); err != nil {
		t.Fatal(err)
	}
	layer := putBlob(t, r, "a", []byte("a layer to mount"))

	// A chunked upload is under way when the disk fills: its second chunk
	// (8 MiB, pipelined in 4 MiB buffers) is admitted up front but crosses
	// the floor half-way.
	up, err := r.StartUpload(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 12<<20)
	_, _ = rand.Read(body)
	first := body[:4<<20]
	if _, err := r.AppendUpload(ctx, "a", up.ID, 0, bytes.NewReader(first), int64(len(first))); err != nil {
		t.Fatal(err)
	}
	space.left.Store(6 << 20)
	second := body[4<<20:]
	_, err = r.AppendUpload(ctx, "a", up.ID, int64(len(first)), onlyReader{bytes.NewReader(second)}, -1)
	if !isInsufficient(err) {
		t.Fatalf("an upload crossing the floor: %v, want InsufficientStorage", err)
	}
	st, err := r.UploadStatus(ctx, "a", up.ID)
	if err != nil || st.Offset != int64(len(first)) {
		t.Fatalf("session after the refusal: offset %d, %v; want %d", st.Offset, err, len(first))
	}
	if fi, err := r.blobs.StatStaging(ctx, up.ID); err != nil || fi.Size != int64(len(first)) {
		t.Fatalf("staging file after the refusal: %+v %v; want the recorded %d bytes only", fi, err, len(first))
	}

	// Below the floor: every write that adds data is refused up front.
	space.left.Store(-1)
	data := []byte("new layer")
	if err := r.PutBlob(ctx, "a", digest.FromBytes(data), bytes.NewReader(data), int64(len(data))); !isInsufficient(err) {
		t.Errorf("PutBlob: %v", err)
	}
	if _, err := r.StartUpload(ctx, "a"); !isInsufficient(err) {
		t.Errorf("StartUpload: %v", err)
	}
	if _, err := r.AppendUpload(ctx, "a", up.ID, -1, bytes.NewReader(data), int64(len(data))); !isInsufficient(err) {
		t.Errorf("AppendUpload: %v", err)
	}
	if err := r.FinishUpload(ctx, "a", up.ID, digest.FromBytes(body), -1, bytes.NewReader(second), int64(len(second))); !isInsufficient(err) {
		t.Errorf("FinishUpload: %v", err)
	}
	if _, err := r.MountBlob(ctx, "b", "a", layer.Digest, nil); !isInsufficient(err) {
		t.Errorf("MountBlob: %v", err)
	}
	if _, err := r.PutManifest(ctx, "a", names.Reference{Tag: "v2"}, v1.MediaTypeImageManifest, m, nil); !isInsufficient(err) {
		t.Errorf("PutManifest: %v", err)
	}
	// Reads and deletes go on.
	got, err := r.GetManifest(ctx, "a", names.Reference{Tag: "v1"})
	if err != nil || !bytes.Equal(got.Payload, m) {
		t.Fatalf("pull below the floor: %v", err)
	}
	f, _, err := r.OpenBlob(ctx, "a", layer.Digest)
	if err != nil {
		t.Fatalf("blob pull below the floor: %v", err)
	}
	_ = f.Close()
	if err := r.DeleteBlob(ctx, "a", layer.Digest); err != nil {
		t.Fatalf("delete below the floor: %v", err)
	}

	// Space is back: the upload resumes where it was and completes.
	space.left.Store(1 << 30)
	if err := r.FinishUpload(ctx, "a", up.ID, digest.FromBytes(body), int64(len(first)), bytes.NewReader(second), int64(len(second))); err != nil {
		t.Fatalf("resumed upload: %v", err)
	}
	if n, err := r.StatBlob(ctx, "a", digest.FromBytes(body)); err != nil || n != int64(len(body)) {
		t.Fatalf("resumed blob: %d %v", n, err)
	}
}
