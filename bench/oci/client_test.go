package oci

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// fakeRegistry serves one blob and one manifest, optionally corrupted, so
// the tests can check that every verification catches a bad answer.
type fakeRegistry struct {
	blob     Blob
	manifest []byte
	flipByte bool   // corrupt one byte of the blob and manifest bodies
	digestHd string // Docker-Content-Digest override for the manifest
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/blobs/"+f.blob.Digest):
		b := make([]byte, f.blob.Size)
		payload.Fill(f.blob.Seed, b)
		if f.flipByte {
			b[len(b)/2] ^= 1
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	case strings.HasSuffix(r.URL.Path, "/manifests/latest"):
		m := append([]byte(nil), f.manifest...)
		if f.flipByte {
			m[3] ^= 1
		}
		d := payload.DigestOf(f.manifest)
		if f.digestHd != "" {
			d = f.digestHd
		}
		w.Header().Set("Docker-Content-Digest", d)
		w.Header().Set("Content-Type", MediaManifest)
		w.Header().Set("Content-Length", strconv.Itoa(len(m)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(m)
		}
	default:
		http.NotFound(w, r)
	}
}

func TestVerificationCatchesBadAnswers(t *testing.T) {
	img := NewImage(5, []int64{100_000})
	f := &fakeRegistry{blob: img.Layers[0], manifest: img.Manifest}
	srv := httptest.NewServer(f)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	for _, fast := range []bool{false, true} {
		c, err := New(host, Options{MaxConns: 4, Fast: fast})
		if err != nil {
			t.Fatal(err)
		}
		name := map[bool]string{false: "nethttp", true: "fasthttp"}[fast]
		b := f.blob
		checks := map[string]func() error{
			"GetBlob":        func() error { _, err := c.GetBlob(ctx, "r", b.Digest, b.Size); return err },
			"GetBlobContent": func() error { _, err := c.GetBlobContent(ctx, "r", b); return err },
			"GetManifest":    func() error { _, err := c.GetManifest(ctx, "r", "latest", img.ManifestDigest); return err },
			"GetKnownManifest": func() error {
				_, err := c.GetKnownManifest(ctx, "r", "latest", img.ManifestDigest, img.Manifest)
				return err
			},
		}
		f.flipByte, f.digestHd = false, ""
		for what, check := range checks {
			if err := check(); err != nil {
				t.Errorf("%s %s of a good answer: %v", name, what, err)
			}
		}
		if err := c.HeadManifest(ctx, "r", "latest", img.ManifestDigest, int64(len(img.Manifest))); err != nil {
			t.Errorf("%s HeadManifest: %v", name, err)
		}
		if ok, err := c.BlobExists(ctx, "r", b.Digest, b.Size); !ok || err != nil {
			t.Errorf("%s BlobExists = %v, %v", name, ok, err)
		}
		if ok, err := c.BlobExists(ctx, "r", payload.DigestOf(nil), 0); ok || err != nil {
			t.Errorf("%s BlobExists of a missing blob = %v, %v", name, ok, err)
		}
		f.flipByte = true
		for what, check := range checks {
			if err := check(); err == nil {
				t.Errorf("%s %s accepted a corrupted body", name, what)
			}
		}
		f.flipByte, f.digestHd = false, payload.DigestOf([]byte("other"))
		if err := checks["GetKnownManifest"](); err == nil {
			t.Errorf("%s GetKnownManifest accepted a wrong Docker-Content-Digest", name)
		}
		if err := c.HeadManifest(ctx, "r", "latest", img.ManifestDigest, -1); err == nil {
			t.Errorf("%s HeadManifest accepted a wrong Docker-Content-Digest", name)
		}
		c.Close()
	}
}

// TestGetBlobLargeVerified checks the pipelined read-and-hash path of
// GetBlob: a good large body passes, a corrupted one does not.
func TestGetBlobLargeVerified(t *testing.T) {
	b := NewBlob(9, pipelineMin+12345)
	f := &fakeRegistry{blob: b, manifest: []byte("{}")}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(strings.TrimPrefix(srv.URL, "http://"), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.GetBlob(context.Background(), "r", b.Digest, b.Size); err != nil || n != b.Size {
		t.Fatalf("good body: %d bytes, %v", n, err)
	}
	f.flipByte = true
	if _, err := c.GetBlob(context.Background(), "r", b.Digest, b.Size); err == nil {
		t.Fatal("corrupted large body accepted")
	}
}
