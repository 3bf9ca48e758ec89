package engine

import (
	"context"
	"errors"
	"hash"
	"io"
	"os"
	"sync"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Streamer runs upload copies on a bounded worker pool (jobs.Pool). It
// bounds how many bodies are written to disk at once, shedding load with
// 429 when every worker is busy and the queue is full, and gives large
// bodies a second goroutine so that reading the socket overlaps with
// hashing and writing.
type Streamer interface {
	Do(ctx context.Context, fn func(context.Context)) error
}

// errStreamerBusy is what a full pool becomes on the wire.
var errStreamerBusy = errcode.New(errcode.Busy, "too many uploads in progress, retry later")

// pipelineMin is the declared body size from which an upload is pipelined:
// below it the handoff between goroutines costs more than it overlaps.
const pipelineMin = 4 << 20

// writebackEvery is how much a pipelined upload writes between requests
// to start writing back to disk (see blobstore.StartWriteback).
const writebackEvery = 2 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// stream copies src into w and every hasher and returns the bytes copied.
// length is the declared size, or -1. Bytes are never held beyond a few
// pooled buffers.
func (r *Registry) stream(ctx context.Context, w io.Writer, src io.Reader, length int64, hs ...hash.Hash) (int64, error) {
	if r.opts.Streamer == nil {
		return copyHashed(w, src, hs...)
	}
	var (
		n   int64
		err error
	)
	if length >= 0 && length < pipelineMin {
		derr := r.opts.Streamer.Do(ctx, func(context.Context) { n, err = copyHashed(w, src, hs...) })
		return n, streamErr(derr, err)
	}
	return r.pipeline(ctx, w, src, hs...)
}

func streamErr(doErr, copyErr error) error {
	if errors.Is(doErr, jobs.ErrBusy) {
		return errStreamerBusy
	}
	if doErr != nil {
		return doErr
	}
	return copyErr
}

// copyHashed is the single-goroutine copy: read, hash, write. It fills
// the buffer before hashing and writing it: a request body arrives in
// reads of a few KiB, and each write to a file costs a syscall and the
// filesystem's per-write work (locking the inode, updating its times), so
// a 512 KiB layer is one write instead of dozens.
func copyHashed(w io.Writer, src io.Reader, hs ...hash.Hash) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
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

func readError(err error) error {
	return errcode.Wrap(errcode.BlobUploadInvalid, err, "reading the request body failed")
}

// pipeline reads src on the calling goroutine and hashes and writes on a
// pool worker, handing full buffers over a short channel. The caller's
// goroutine owns the request body and reads it to the end (or to the first
// error) before returning.
func (r *Registry) pipeline(ctx context.Context, w io.Writer, src io.Reader, hs ...hash.Hash) (int64, error) {
	const depth = 3
	full := make(chan []byte, depth)
	free := make(chan *[]byte, depth+1)
	for range depth + 1 {
		free <- copyBufs.Get().(*[]byte)
	}
	defer func() {
		for range depth + 1 {
			copyBufs.Put(<-free)
		}
	}()
	var written int64
	var werr error
	done := make(chan error, 1)
	go func() {
		// Writeback ranges are file offsets: a session's chunk starts where
		// the staging file's recorded bytes end.
		file, _ := w.(*os.File)
		var base, flushed int64
		if file != nil {
			base, _ = file.Seek(0, io.SeekCurrent)
		}
		done <- r.opts.Streamer.Do(ctx, func(context.Context) {
			for b := range full {
				if werr == nil {
					for _, h := range hs {
						h.Write(b)
					}
					if _, err := w.Write(b); err != nil {
						werr = err
					}
					written += int64(len(b))
					if file != nil && written-flushed >= writebackEvery {
						blobstore.StartWriteback(file, base+flushed, written-flushed)
						flushed = written
					}
				}
				bp := b[:cap(b)]
				free <- &bp
			}
		})
	}()
	var rerr error
	var doErr error
	doReturned := false
read:
	for {
		var bp *[]byte
		select {
		case bp = <-free:
		case doErr = <-done: // the worker never started (pool full) or failed
			doReturned = true
			break read
		}
		k, err := io.ReadFull(src, *bp)
		if k == 0 {
			free <- bp
		} else {
			select {
			case full <- (*bp)[:k]:
			case doErr = <-done:
				doReturned = true
				free <- bp
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
	close(full)
	if !doReturned {
		doErr = <-done
	}
	if doReturned {
		// Nothing consumed what was queued: hand the buffers back.
		for b := range full {
			bp := b[:cap(b)]
			free <- &bp
		}
	}
	if err := streamErr(doErr, werr); err != nil {
		return written, err
	}
	return written, rerr
}
