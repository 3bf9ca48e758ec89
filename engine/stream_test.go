package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
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

// TestStreamBusy: an upload no worker takes is refused with 429 and holds
// no buffer afterwards. A body of unknown length goes through the
// pipeline, where a select decides whether the refusal is seen before the
// body is all read; a body that fit in the queues once left its buffers
// held and the upload hung, so that case is pushed many times, each
// bounded.
func TestStreamBusy(t *testing.T) {
	r := newTestEngine(t, Options{Streamer: busyStreamer{}})
	data := make([]byte, 3*pipelineMin)
	lengths := []int64{10}
	for range 40 {
		lengths = append(lengths, -1)
	}
	for _, length := range lengths {
		body := data
		if length >= 0 {
			body = data[:length]
		}
		done := make(chan error, 1)
		go func() {
			done <- r.PutBlob(context.Background(), "s", digest.FromBytes(body), onlyReader{bytes.NewReader(body)}, length)
		}()
		wait.Within(t, 20*time.Second, "the refused upload to return", func() bool { return len(done) > 0 })
		if err := <-done; errcode.KindOf(err) != errcode.TooManyRequests {
			t.Errorf("length %d: %v, want TooManyRequests (429)", length, err)
		}
	}
	if n := len(r.bigBufSlots); n != 0 {
		t.Errorf("%d big buffer sets held after refused uploads", n)
	}
}

// TestStreamConcurrentPipelines pushes more large blobs at once than there
// are 4 MiB buffer sets: some pipelines run on the 1 MiB buffers, every
// blob arrives intact, and every big set is given back.
func TestStreamConcurrentPipelines(t *testing.T) {
	pool := jobs.NewPool(2*bigPipelines, 0)
	defer pool.Close()
	r := newTestEngine(t, Options{Streamer: pool})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 2 * bigPipelines {
		data := make([]byte, 2*pipelineMin+i*4097)
		_, _ = rand.Read(data)
		d := digest.FromBytes(data)
		wg.Go(func() {
			if err := r.PutBlob(ctx, "s", d, onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
				t.Errorf("blob %d: %v", i, err)
				return
			}
			f, _, err := r.OpenBlob(ctx, "s", d)
			if err != nil {
				t.Errorf("blob %d: %v", i, err)
				return
			}
			defer f.Close()
			if got, _ := io.ReadAll(f); !bytes.Equal(got, data) {
				t.Errorf("blob %d: content differs", i)
			}
		})
	}
	wg.Wait()
	if n := len(r.bigBufSlots); n != 0 {
		t.Fatalf("%d big buffer sets still held", n)
	}
}

// TestBufClasses checks that a body gets the smallest buffer that holds it
// whole, that unknown and oversized lengths get the largest, and that a
// buffer goes back to the pool of its own size.
func TestBufClasses(t *testing.T) {
	c := newBufClasses(64<<10, 1<<20)
	for _, tc := range []struct {
		length int64
		want   int
	}{
		{-1, 1 << 20}, {0, 64 << 10}, {1, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10},
		{300 << 10, 512 << 10}, {512 << 10, 512 << 10}, {1 << 20, 1 << 20}, {3 << 20, 1 << 20},
	} {
		b := c.get(tc.length)
		if len(*b) != tc.want {
			t.Errorf("get(%d): %d bytes, want %d", tc.length, len(*b), tc.want)
		}
		if got := c.class(int64(len(*b))); len(*c.pools[got].Get().(*[]byte)) != tc.want {
			t.Errorf("put(%d bytes) would go to the pool of class %d", len(*b), got)
		}
		c.put(b)
	}
	if n := len(*c.largest().Get().(*[]byte)); n != 1<<20 {
		t.Errorf("largest: %d bytes, want %d", n, 1<<20)
	}
}
