package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// onlyReader hides bytes.Reader's WriterTo so the copy really streams.
type onlyReader struct{ io.Reader }

func TestStreamThroughPool(t *testing.T) {
	pool := jobs.NewPool(2, 2)
	defer pool.Close()
	r := newTestEngine(t, Options{Streamer: pool})
	ctx := context.Background()
	for _, size := range []int{0, 1000, pipelineMin - 1, pipelineMin + 12345, 3*pipelineMin + 7} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		d := digest.FromBytes(data)
		// Declared length (small bodies go inline on a worker) and unknown
		// length (always pipelined).
		for _, length := range []int64{int64(size), -1} {
			if err := r.PutBlob(ctx, "s", d, onlyReader{bytes.NewReader(data)}, length); err != nil {
				t.Fatalf("size %d length %d: %v", size, length, err)
			}
			f, n, err := r.OpenBlob(ctx, "s", d)
			if err != nil || n != int64(size) {
				t.Fatalf("size %d: open %v, %d bytes", size, err, n)
			}
			got, _ := io.ReadAll(f)
			_ = f.Close()
			if !bytes.Equal(got, data) {
				t.Fatalf("size %d: content differs", size)
			}
		}
	}
	// A wrong digest through the pipeline stores nothing.
	data := make([]byte, 2*pipelineMin)
	wrong := digest.FromString("x")
	if err := r.PutBlob(ctx, "s", wrong, onlyReader{bytes.NewReader(data)}, -1); errcode.KindOf(err) != errcode.DigestInvalid {
		t.Fatalf("mismatch through pipeline: %v", err)
	}
}

// busyStreamer is a pool with no free worker and no queue.
type busyStreamer struct{}

func (busyStreamer) Do(context.Context, func(context.Context)) error { return jobs.ErrBusy }

func TestStreamBusy(t *testing.T) {
	r := newTestEngine(t, Options{Streamer: busyStreamer{}})
	data := make([]byte, 3*pipelineMin)
	for _, length := range []int64{10, -1} {
		body := data
		if length >= 0 {
			body = data[:length]
		}
		err := r.PutBlob(context.Background(), "s", digest.FromBytes(body), onlyReader{bytes.NewReader(body)}, length)
		if errcode.KindOf(err) != errcode.Busy {
			t.Errorf("length %d: %v, want Busy (429)", length, err)
		}
	}
}
