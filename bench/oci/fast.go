package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// The small, hot requests (manifest GET and HEAD, blob HEAD, GETs of blobs
// up to fastBodyMax) go through fasthttp's client when Options.Fast is set:
// on a two-core machine the load generator shares the CPU with the
// registry, and net/http's client costs several times more per request
// (header maps, goroutines per connection). Both registries are measured
// with the same client, so this only removes noise. Uploads, listings and
// large blobs stay on net/http, which streams.
const fastBodyMax = 8 << 20

func newFast(host string, o Options) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      host,
		MaxConns:                  o.MaxConns,
		MaxIdleConnDuration:       90 * time.Second,
		ReadTimeout:               o.Timeout,
		WriteTimeout:              o.Timeout,
		MaxResponseBodySize:       fastBodyMax,
		ReadBufferSize:            16 << 10,
		NoDefaultUserAgentHeader:  true,
		MaxIdemponentCallAttempts: 1, // report failures, never retry them away
	}
}

// fastDo sends method path with the Accept header (when not empty) and
// checks the status; the caller releases the response.
func (c *Client) fastDo(method, path, accept string, want ...int) (*fasthttp.Response, error) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + c.base.Host + path)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass)))
	}
	if err := c.fast.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	code := resp.StatusCode()
	for _, w := range want {
		if code == w {
			return resp, nil
		}
	}
	body := resp.Body()
	err := &StatusError{Method: method, URL: path, Got: code, Want: want, Body: string(body[:min(len(body), 512)])}
	fasthttp.ReleaseResponse(resp)
	return nil, err
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fastGetManifest checks the body against want when given (the caller
// pushed it, so equal bytes mean the right digest), else hashes it.
func (c *Client) fastGetManifest(repo, ref, wantDigest string, want []byte) (int, error) {
	resp, err := c.fastDo(http.MethodGet, manifestPath(repo, ref), AcceptManifests, http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer fasthttp.ReleaseResponse(resp)
	body := resp.Body()
	h := string(resp.Header.Peek("Docker-Content-Digest"))
	if want != nil {
		if !bytes.Equal(body, want) || h != wantDigest {
			return 0, fmt.Errorf("GET manifest %s:%s: %d bytes with Docker-Content-Digest %q; want the %d bytes of %s", repo, ref, len(body), h, len(want), wantDigest)
		}
	} else {
		got := hexDigest(body)
		if h != got {
			return 0, fmt.Errorf("GET manifest %s:%s: body hashes to %s, Docker-Content-Digest %q", repo, ref, got, h)
		}
		if wantDigest != "" && got != wantDigest {
			return 0, fmt.Errorf("GET manifest %s:%s: got %s, want %s", repo, ref, got, wantDigest)
		}
	}
	if ct := string(resp.Header.ContentType()); ct != MediaManifest {
		return 0, fmt.Errorf("GET manifest %s:%s: Content-Type %q, want %q", repo, ref, ct, MediaManifest)
	}
	return len(body), nil
}

func (c *Client) fastHeadManifest(repo, ref, wantDigest string, wantSize int64) error {
	resp, err := c.fastDo(http.MethodHead, manifestPath(repo, ref), AcceptManifests, http.StatusOK)
	if err != nil {
		return err
	}
	defer fasthttp.ReleaseResponse(resp)
	if h := string(resp.Header.Peek("Docker-Content-Digest")); h != wantDigest {
		return fmt.Errorf("HEAD manifest %s:%s: Docker-Content-Digest %q, want %s", repo, ref, h, wantDigest)
	}
	if n := resp.Header.ContentLength(); wantSize >= 0 && int64(n) != wantSize {
		return fmt.Errorf("HEAD manifest %s:%s: Content-Length %d, want %d", repo, ref, n, wantSize)
	}
	if len(resp.Body()) != 0 {
		return fmt.Errorf("HEAD manifest %s:%s: answer has a body", repo, ref)
	}
	return nil
}

func (c *Client) fastBlobExists(repo, digest string, size int64) (bool, error) {
	resp, err := c.fastDo(http.MethodHead, blobPath(repo, digest), "", http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	defer fasthttp.ReleaseResponse(resp)
	if resp.StatusCode() == http.StatusNotFound {
		return false, nil
	}
	if n := resp.Header.ContentLength(); size >= 0 && int64(n) != size {
		return false, fmt.Errorf("HEAD blob %s: Content-Length %d, want %d", digest, n, size)
	}
	return true, nil
}

func (c *Client) fastGetBlob(repo, digest string, size int64) (int64, error) {
	resp, err := c.fastDo(http.MethodGet, blobPath(repo, digest), "", http.StatusOK)
	if err != nil {
		return 0, err
	}
	defer fasthttp.ReleaseResponse(resp)
	body := resp.Body()
	n := int64(len(body))
	if n != size {
		return n, fmt.Errorf("GET blob %s: %d bytes, want %d", digest, n, size)
	}
	if got := hexDigest(body); got != digest {
		return n, fmt.Errorf("GET blob %s: body hashes to %s", digest, got)
	}
	return n, nil
}
