package engine

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Streamer runs upload copies on a bounded worker pool (jobs.Pool). It
// bounds how many bodies are written to disk at once, shedding load with
// 429 when every worker is busy and the queue is full, and gives large
// bodies a second goroutine so that reading the socket overlaps with
// hashing and writing.
type Streamer interface {
	Do(ctx context.Context, fn func(context.Context)) error
}

// pipelineMin is the declared body size from which an upload is pipelined:
// below it the handoff between goroutines costs more than it overlaps.
const pipelineMin = 4 << 20

// copyBufs are the upload buffers, aligned so that blobstore.File can
// write them with direct I/O, in size classes from 64 KiB to 1 MiB: a
// body gets the smallest buffer that holds it whole. A buffer held by an
// upload counts toward the collector's heap goal whether its pages were
// touched or not, and the goal is what the resident set grows to: 128
// uploads of push-image's 16–512 KiB layers holding 1 MiB each made
// 128 MiB of "live" heap and a goal of twice that (docs/benchmarks.md,
// "Memory").
var copyBufs = newBufClasses(64<<10, 1<<20)

// bufClasses are pools of aligned buffers of min, 2×min, ... bytes.
type bufClasses struct {
	min   int
	pools []sync.Pool
}

func newBufClasses(lo, hi int) *bufClasses {
	c := &bufClasses{min: lo}
	for n := lo; n <= hi; n *= 2 {
		c.pools = append(c.pools, sync.Pool{New: func() any { b := blobstore.AlignedBuffer(n); return &b }})
	}
	return c
}

// class is the index of the smallest class of at least n bytes (the
// largest for n < 0, a body of unknown length).
func (c *bufClasses) class(n int64) int {
	i := 0
	for size := int64(c.min); i < len(c.pools)-1 && (n < 0 || size < n); size *= 2 {
		i++
	}
	return i
}

// get returns a buffer that holds n bytes, or the largest if none does.
func (c *bufClasses) get(n int64) *[]byte { return c.pools[c.class(n)].Get().(*[]byte) }

// put gives back a buffer get returned.
func (c *bufClasses) put(b *[]byte) { c.pools[c.class(int64(len(*b)))].Put(b) }

// largest is the pool of the largest buffers, for bodies of any length.
func (c *bufClasses) largest() *sync.Pool { return &c.pools[len(c.pools)-1] }

// bigBufs are the buffers of the first few concurrent pipelined uploads:
// a direct write of 4 MiB keeps the disk far busier than four of 1 MiB
// (a 256 MiB push went from about 800 to 980 MB/s). At most bigPipelines
// uploads hold them, 16 MiB each, so memory stays bounded however many
// large blobs are pushed at once; the others use copyBufs.
var bigBufs = sync.Pool{New: func() any { b := blobstore.AlignedBuffer(4 << 20); return &b }}

const bigPipelines = 4

// bigSlots counts the pipelines holding bigBufs.
type bigSlots chan struct{}

// acquire returns the buffer pool a new pipeline uses and the function
// that gives its place back.
func (b bigSlots) acquire() (*sync.Pool, func()) {
	select {
	case b <- struct{}{}:
		return &bigBufs, func() { <-b }
	default:
		return copyBufs.largest(), func() {}
	}
}

// copyMax caps the buffer of the single-goroutine copy. Its uploads are
// the small ones (under pipelineMin), hundreds at once under push traffic,
// and every buffer held counts twice toward the resident set (the
// collector's goal): at push-image c=64 buffers of up to 1 MiB were
// 9 MiB of a 29 MiB live heap. A 512 KiB layer now takes two writes
// instead of one (docs/benchmarks.md, "Memory").
const copyMax = 256 << 10

// stream copies src into w and every hasher and returns the bytes copied.
// length is the declared size, or -1. Bytes are never held beyond a few
// pooled buffers.
func (r *Registry) stream(ctx context.Context, w io.Writer, src io.Reader, length int64, hs ...hash.Hash) (int64, error) {
	if r.opts.Streamer == nil {
		return copyHashed(w, src, length, hs...)
	}
	var (
		n   int64
		err error
	)
	if length >= 0 && length < pipelineMin {
		derr := r.opts.Streamer.Do(ctx, func(context.Context) { n, err = copyHashed(w, src, length, hs...) })
		return n, streamErr(derr, err)
	}
	return r.pipeline(ctx, w, src, hs...)
}

// streamErr is the copy's outcome: the pool's refusal first (a full pool
// is jobs.ErrBusy, answered 429), then the copy's own error.
func streamErr(doErr, copyErr error) error {
	if doErr != nil {
		return doErr
	}
	return copyErr
}

// copyHashed is the single-goroutine copy: read, hash, write. It fills
// the buffer before hashing and writing it: a request body arrives in
// reads of a few KiB, and each write to a file costs a syscall and the
// filesystem's per-write work (locking the inode, updating its times), so
// a 256 KiB layer is one write instead of dozens. length is the declared
// size, or -1; it picks the buffer, at most copyMax.
func copyHashed(w io.Writer, src io.Reader, length int64, hs ...hash.Hash) (int64, error) {
	if length < 0 || length > copyMax {
		length = copyMax
	}
	bp := copyBufs.get(length)
	defer copyBufs.put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := io.ReadFull(src, buf)
		if rerr == io.ErrUnexpectedEOF {
			rerr = io.EOF
		}
		if k > 0 {
			for _, h := range hs {
				h.Write(buf[:k])
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, readError(rerr)
		}
	}
}

// errBodyRead marks a failure to read the request body (the client went
// away or stalled): what was read before it was written and hashed in
// full, which is what lets a PATCH record it (session.write).
var errBodyRead = errors.New("reading the request body")

func readError(err error) error {
	return errcode.Wrap(errcode.BlobUploadInvalid, fmt.Errorf("%w: %w", errBodyRead, err), "reading the request body failed")
}

// pipeline reads src on the calling goroutine and hands each full buffer
// to two stages that run side by side on a pool worker: one feeds the
// hashes, the other writes the file (with direct I/O where it can, so
// mostly a wait on the disk). SHA-256 and the write overlap instead of
// taking turns, and reading the socket overlaps with both. The caller's
// goroutine owns the request body and reads it to the end (or to the
// first error) before returning.
func (r *Registry) pipeline(ctx context.Context, w io.Writer, src io.Reader, hs ...hash.Hash) (int64, error) {
	const depth = 3
	toWrite := make(chan *slot, depth)
	toHash := make(chan *slot, depth)
	free := make(chan *slot, depth+1)
	bufs, release := r.bigBufSlots.acquire()
	defer release()
	for range depth + 1 {
		free <- &slot{buf: bufs.Get().(*[]byte), free: free}
	}
	defer func() {
		for range depth + 1 {
			bufs.Put((<-free).buf)
		}
	}()
	if d, ok := w.(directWriter); ok {
		d.AllowDirect()
	}
	var written int64
	var werr error
	done := make(chan error, 1)
	go func() {
		done <- r.opts.Streamer.Do(ctx, func(context.Context) {
			var hashing sync.WaitGroup
			hashing.Go(func() {
				for s := range toHash {
					for _, h := range hs {
						h.Write(s.data)
					}
					s.release()
				}
			})
			for s := range toWrite {
				if werr == nil {
					if _, err := w.Write(s.data); err != nil {
						werr = err
					}
					written += int64(len(s.data))
				}
				s.release()
			}
			hashing.Wait()
		})
	}()
	var rerr error
	var doErr error
	doReturned := false
	// send queues s on ch unless the worker is gone.
	send := func(ch chan<- *slot, s *slot) bool {
		select {
		case ch <- s:
			return true
		case doErr = <-done:
			doReturned = true
			return false
		}
	}
read:
	for {
		var s *slot
		select {
		case s = <-free:
		case doErr = <-done: // the worker never started (pool full) or failed
			doReturned = true
			break read
		}
		k, err := io.ReadFull(src, *s.buf)
		if k == 0 {
			free <- s
		} else {
			s.data = (*s.buf)[:k]
			s.refs.Store(2)
			if !send(toWrite, s) {
				s.release()
				s.release()
				break read
			}
			if !send(toHash, s) {
				s.release()
				break read
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = readError(err)
			break
		}
	}
	close(toWrite)
	close(toHash)
	if !doReturned {
		doErr = <-done
	}
	// The worker is done: whatever it did not take goes back (all of it
	// when it never ran, which the loop above may not have noticed if the
	// whole body fit in the queues), or the deferred wait for every
	// buffer never ends.
	for s := range toWrite {
		s.release()
	}
	for s := range toHash {
		s.release()
	}
	if err := streamErr(doErr, werr); err != nil {
		return written, err
	}
	return written, rerr
}

// directWriter is a staging file that can write a large body past the
// page cache (blobstore.File).
type directWriter interface{ AllowDirect() }

// slot is one buffer of a pipelined upload, shared by the hashing and the
// writing stage; the last to finish with it returns it to free.
type slot struct {
	buf  *[]byte
	data []byte
	refs atomic.Int32
	free chan<- *slot
}

func (s *slot) release() {
	if s.refs.Add(-1) == 0 {
		s.free <- s
	}
}
