package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// Verifying a body by SHA-256 costs the load generator one core per
// ~1 GB/s, which on a small machine takes CPU from the registry under
// test. When the client knows what the bytes must be (it pushed them from
// a payload stream), comparing them with a regenerated copy is a check at
// least as strong (equal bytes hash to the pushed digest) at a fraction
// of the cost. GetBlobContent does that.

var cmpBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// contentChecker is a writer that compares what is written with the
// payload stream (seed, size); bad records the first difference.
type contentChecker struct {
	seed uint64
	size int64
	off  int64
	bad  bool
}

func (c *contentChecker) Write(p []byte) (int, error) {
	bp := cmpBufs.Get().(*[]byte)
	defer cmpBufs.Put(bp)
	buf := *bp
	for rest := p; len(rest) > 0 && !c.bad; {
		n := min(len(rest), len(buf))
		if c.off+int64(n) > c.size {
			c.bad = true
			break
		}
		want := buf[:n]
		payload.FillAt(c.seed, c.off, want)
		if !bytes.Equal(rest[:n], want) {
			c.bad = true
		}
		rest = rest[n:]
		c.off += int64(n)
	}
	return len(p), nil
}

// GetBlobContent is GET /v2/<repo>/blobs/<digest> of a payload blob b: it
// fails unless the status is 200, the length is b.Size and every byte is
// the one pushed.
func (c *Client) GetBlobContent(ctx context.Context, repo string, b Blob) (int64, error) {
	chk := &contentChecker{seed: b.Seed, size: b.Size}
	var n int64
	if c.fast != nil && b.Size <= fastBodyMax {
		resp, err := c.fastDo(http.MethodGet, blobPath(repo, b.Digest), "", http.StatusOK)
		if err != nil {
			return 0, err
		}
		body := resp.Body()
		n = int64(len(body))
		_, _ = chk.Write(body)
		fasthttp.ReleaseResponse(resp)
	} else {
		resp, err := c.do(ctx, http.MethodGet, blobPath(repo, b.Digest), nil, nil, 0, http.StatusOK)
		if err != nil {
			return 0, err
		}
		bp := copyBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(chk, resp.Body, *bp)
		copyBufs.Put(bp)
		drain(resp)
		if err != nil {
			return n, fmt.Errorf("GET blob %s: after %d bytes: %w", b.Digest, n, err)
		}
	}
	if n != b.Size {
		return n, fmt.Errorf("GET blob %s: %d bytes, want %d", b.Digest, n, b.Size)
	}
	if chk.bad {
		return n, fmt.Errorf("GET blob %s: body differs from the bytes pushed", b.Digest)
	}
	return n, nil
}
