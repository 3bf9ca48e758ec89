package oci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// Media types the benchmark pushes.
const (
	MediaManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaConfig   = "application/vnd.oci.image.config.v1+json"
	MediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// AcceptManifests is the Accept header of a pull, as docker sends it.
const AcceptManifests = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

// PutManifest is PUT /v2/<repo>/manifests/<ref> → 201 with
// Docker-Content-Digest equal to the digest of body, which it returns.
func (c *Client) PutManifest(ctx context.Context, repo, ref, mediaType string, body []byte) (string, error) {
	want := payload.DigestOf(body)
	hdr := http.Header{"Content-Type": {mediaType}}
	resp, err := c.do(ctx, http.MethodPut, manifestPath(repo, ref), hdr, bytes.NewReader(body), int64(len(body)), http.StatusCreated)
	if err != nil {
		return "", err
	}
	drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want {
		return "", fmt.Errorf("PUT manifest %s:%s: registry answered digest %s, want %s", repo, ref, got, want)
	}
	return want, nil
}

var manifestBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// GetManifest is GET /v2/<repo>/manifests/<ref>; it checks the status, the
// Content-Type, that the body hashes to Docker-Content-Digest and, when
// wantDigest is not empty, that this is the expected manifest. It returns
// the number of body bytes.
func (c *Client) GetManifest(ctx context.Context, repo, ref, wantDigest string) (int, error) {
	if c.fast != nil {
		return c.fastGetManifest(repo, ref, wantDigest, nil)
	}
	b := manifestBufs.Get().(*bytes.Buffer)
	defer manifestBufs.Put(b)
	b.Reset()
	if err := c.getManifest(ctx, repo, ref, wantDigest, b); err != nil {
		return 0, err
	}
	return b.Len(), nil
}

// GetKnownManifest is GetManifest of a manifest the caller pushed: the
// body must equal want byte for byte (which is cheaper than hashing it) and
// Docker-Content-Digest must be wantDigest.
func (c *Client) GetKnownManifest(ctx context.Context, repo, ref, wantDigest string, want []byte) (int, error) {
	if c.fast != nil {
		return c.fastGetManifest(repo, ref, wantDigest, want)
	}
	return c.GetManifest(ctx, repo, ref, wantDigest)
}

func (c *Client) getManifest(ctx context.Context, repo, ref, wantDigest string, b *bytes.Buffer) error {
	hdr := http.Header{"Accept": {AcceptManifests}}
	resp, err := c.do(ctx, http.MethodGet, manifestPath(repo, ref), hdr, nil, 0, http.StatusOK)
	if err != nil {
		return err
	}
	defer drain(resp)
	if _, err := io.Copy(b, io.LimitReader(resp.Body, 4<<20+1)); err != nil {
		return fmt.Errorf("GET manifest %s:%s: %w", repo, ref, err)
	}
	got := payload.DigestOf(b.Bytes())
	if h := resp.Header.Get("Docker-Content-Digest"); h != got {
		return fmt.Errorf("GET manifest %s:%s: body hashes to %s, Docker-Content-Digest %q", repo, ref, got, h)
	}
	if wantDigest != "" && got != wantDigest {
		return fmt.Errorf("GET manifest %s:%s: got %s, want %s", repo, ref, got, wantDigest)
	}
	if ct := resp.Header.Get("Content-Type"); ct != MediaManifest {
		return fmt.Errorf("GET manifest %s:%s: Content-Type %q, want %q", repo, ref, ct, MediaManifest)
	}
	return nil
}

// HeadManifest is HEAD /v2/<repo>/manifests/<ref>: 200 with
// Docker-Content-Digest equal to wantDigest and Content-Length equal to
// wantSize (when ≥ 0).
func (c *Client) HeadManifest(ctx context.Context, repo, ref, wantDigest string, wantSize int64) error {
	if c.fast != nil {
		return c.fastHeadManifest(repo, ref, wantDigest, wantSize)
	}
	hdr := http.Header{"Accept": {AcceptManifests}}
	resp, err := c.do(ctx, http.MethodHead, manifestPath(repo, ref), hdr, nil, 0, http.StatusOK)
	if err != nil {
		return err
	}
	drain(resp)
	if h := resp.Header.Get("Docker-Content-Digest"); h != wantDigest {
		return fmt.Errorf("HEAD manifest %s:%s: Docker-Content-Digest %q, want %s", repo, ref, h, wantDigest)
	}
	if wantSize >= 0 {
		n, err := parseSize(resp.Header.Get("Content-Length"))
		if err != nil || n != wantSize {
			return fmt.Errorf("HEAD manifest %s:%s: Content-Length %q, want %d", repo, ref, resp.Header.Get("Content-Length"), wantSize)
		}
	}
	return nil
}
