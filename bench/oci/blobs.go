package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

func blobPath(repo, digest string) string { return "/v2/" + repo + "/blobs/" + digest }

// BlobExists is HEAD /v2/<repo>/blobs/<digest>: true on 200 (with the right
// Content-Length when size ≥ 0), false on 404.
func (c *Client) BlobExists(ctx context.Context, repo, digest string, size int64) (bool, error) {
	if c.fast != nil {
		return c.fastBlobExists(repo, digest, size)
	}
	resp, err := c.do(ctx, http.MethodHead, blobPath(repo, digest), nil, nil, 0, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if size >= 0 && resp.ContentLength != size {
		return false, fmt.Errorf("HEAD blob %s: Content-Length %d, want %d", digest, resp.ContentLength, size)
	}
	return true, nil
}

// startUpload is POST /v2/<repo>/blobs/uploads/ → 202 and a Location.
func (c *Client) startUpload(ctx context.Context, repo string) (string, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, http.NoBody, 0, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	drain(resp)
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("POST upload in %s: 202 without Location", repo)
	}
	return loc, nil
}

// withDigest adds digest=<d> to an upload location, which may already
// carry a query (distribution keeps its upload state there).
func withDigest(loc, digest string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(digest)
}

// finish checks a 201 answer to a blob upload: Location present and, when
// the registry sends it, Docker-Content-Digest equal to digest.
func finish(resp *http.Response, digest string) error {
	drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != digest {
		return fmt.Errorf("upload of %s: registry answered digest %s", digest, got)
	}
	if resp.Header.Get("Location") == "" {
		return fmt.Errorf("upload of %s: 201 without Location", digest)
	}
	return nil
}

var octet = http.Header{"Content-Type": {"application/octet-stream"}}

// PushBlob uploads size bytes from body as digest in two requests: POST to
// open the session, then one PUT ?digest= with the whole body (the spec's
// "POST then PUT" monolithic upload).
func (c *Client) PushBlob(ctx context.Context, repo, digest string, size int64, body io.Reader) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPut, withDigest(loc, digest), octet, body, size, http.StatusCreated)
	if err != nil {
		return err
	}
	return finish(resp, digest)
}

// PushBlobChunked uploads size bytes from body as digest in PATCHes of
// chunk bytes with Content-Range, then a PUT ?digest= without a body. It
// checks each 202's Range header covers everything sent so far.
func (c *Client) PushBlobChunked(ctx context.Context, repo, digest string, size, chunk int64, body io.Reader) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < size; {
		n := min(chunk, size-off)
		hdr := http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)},
		}
		resp, err := c.do(ctx, http.MethodPatch, loc, hdr, io.LimitReader(body, n), n, http.StatusAccepted)
		if err != nil {
			return err
		}
		drain(resp)
		off += n
		if want := fmt.Sprintf("0-%d", off-1); resp.Header.Get("Range") != want {
			return fmt.Errorf("PATCH upload of %s: Range %q, want %q", digest, resp.Header.Get("Range"), want)
		}
		if l := resp.Header.Get("Location"); l != "" {
			loc = l
		}
	}
	resp, err := c.do(ctx, http.MethodPut, withDigest(loc, digest), nil, http.NoBody, 0, http.StatusCreated)
	if err != nil {
		return err
	}
	return finish(resp, digest)
}

// MountBlob is POST ?mount=<digest>&from=<from> into repo; anything but a
// 201 (a 202 means the registry refused the mount) is an error.
func (c *Client) MountBlob(ctx context.Context, repo, from, digest string) error {
	q := url.Values{"mount": {digest}, "from": {from}}
	resp, err := c.do(ctx, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?"+q.Encode(), nil, http.NoBody, 0, http.StatusCreated)
	if err != nil {
		return err
	}
	return finish(resp, digest)
}

var hashes = sync.Pool{New: func() any { return sha256.New() }}
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// GetBlob is GET /v2/<repo>/blobs/<digest>: it streams the body through
// SHA-256 and fails unless the digest and the length (size ≥ 0) match.
// It returns the number of bytes read.
func (c *Client) GetBlob(ctx context.Context, repo, digest string, size int64) (int64, error) {
	if c.fast != nil && size >= 0 && size <= fastBodyMax {
		return c.fastGetBlob(repo, digest, size)
	}
	resp, err := c.do(ctx, http.MethodGet, blobPath(repo, digest), nil, nil, 0, http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer drain(resp)
	h := hashes.Get().(hash.Hash)
	defer hashes.Put(h)
	h.Reset()
	var n int64
	if size >= 0 && size < pipelineMin {
		bp := copyBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(h, resp.Body, *bp)
		copyBufs.Put(bp)
	} else {
		n, err = hashStream(h, resp.Body)
	}
	if err != nil {
		return n, fmt.Errorf("GET blob %s: after %d bytes: %w", digest, n, err)
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("GET blob %s: %d bytes, want %d", digest, n, size)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		return n, fmt.Errorf("GET blob %s: Content-Length %d but %d bytes", digest, resp.ContentLength, n)
	}
	var sum [sha256.Size]byte
	if got := "sha256:" + hex.EncodeToString(h.Sum(sum[:0])); got != digest {
		return n, fmt.Errorf("GET blob %s: body hashes to %s", digest, got)
	}
	return n, nil
}

// pipelineMin is the body size from which GetBlob reads and hashes on two
// goroutines.
const pipelineMin = 16 << 20

// hashStream feeds r through h, reading on one goroutine and hashing on
// the caller's, with up to 8 MiB read ahead. Hashing and reading in turns
// on one goroutine made the load generator the limit of pull-large: the
// socket stalled while it hashed, and a registry reading from disk
// stalled while the socket was full, so the two never overlapped.
func hashStream(h hash.Hash, r io.Reader) (int64, error) {
	const depth = 8
	free := make(chan []byte, depth)
	full := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, 1<<20)
	}
	var rerr error
	go func() {
		defer close(full)
		for b := range free {
			k, err := io.ReadFull(r, b)
			if k > 0 {
				full <- b[:k]
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					rerr = err
				}
				return
			}
		}
	}()
	var n int64
	for b := range full {
		h.Write(b)
		n += int64(len(b))
		free <- b[:cap(b)]
	}
	return n, rerr
}

// parseSize reads a decimal header value.
func parseSize(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
