package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// The in-process handler benchmarks: the full middleware chain and router
// driven with a fasthttp.RequestCtx, no socket, so ns/op and allocs/op are
// the server's own cost per request. `make bench-micro` runs them.

// benchRegistry opens a real on-disk Badger and blob store and returns the
// server's handler and the engine.
func benchRegistry(b *testing.B) (fasthttp.RequestHandler, *engine.Registry) {
	b.Helper()
	dir := b.TempDir()
	opened := enginetest.Open(b, dir)
	store, blobs := opened.KV, opened.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	b.Cleanup(func() {
		_ = reg.Close(context.Background())
		_ = store.Close()
	})
	srv := New(reg, zerolog.Nop(), Options{ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	return srv.Handler(), reg
}

// benchImage pushes a config and one layer into repo and returns the
// manifest that references them.
func benchImage(b *testing.B, reg *engine.Registry, repo string) []byte {
	b.Helper()
	ctx := context.Background()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := bytes.Repeat([]byte("layer"), 1000)
	for _, blob := range [][]byte{cfg, layer} {
		if err := reg.PutBlob(ctx, repo, digest.FromBytes(blob), bytes.NewReader(blob), int64(len(blob))); err != nil {
			b.Fatal(err)
		}
	}
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		v1.MediaTypeImageManifest, v1.MediaTypeImageConfig, digest.FromBytes(cfg), len(cfg),
		v1.MediaTypeImageLayer, digest.FromBytes(layer), len(layer))
}

// serveBench runs one request through h per iteration, reusing the
// RequestCtx as fasthttp's server does, and checks the status.
func serveBench(b *testing.B, h fasthttp.RequestHandler, method, uri string, status int, header ...string) {
	b.Helper()
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}, nil)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
		if ctx.Response.StatusCode() != status {
			b.Fatalf("%s %s: status %d, want %d: %s", method, uri, ctx.Response.StatusCode(), status, ctx.Response.Body())
		}
	}
	b.SetBytes(int64(len(ctx.Response.Body())))
}

// BenchmarkManifestGET is GET and HEAD of a manifest by tag and by digest:
// middleware, routing, the tag lookup and manifest read in one Badger
// snapshot, and the response headers.
func BenchmarkManifestGET(b *testing.B) {
	h, reg := benchRegistry(b)
	m := benchImage(b, reg, "bench/get")
	res, err := reg.PutManifest(context.Background(), "bench/get", names.Reference{Tag: "v1"}, v1.MediaTypeImageManifest, m, nil)
	if err != nil {
		b.Fatal(err)
	}
	accept := []string{"Accept", v1.MediaTypeImageManifest + ", " + v1.MediaTypeImageIndex}
	b.Run("tag", func(b *testing.B) {
		serveBench(b, h, fasthttp.MethodGet, "/v2/bench/get/manifests/v1", 200, accept...)
	})
	b.Run("digest", func(b *testing.B) {
		serveBench(b, h, fasthttp.MethodGet, "/v2/bench/get/manifests/"+res.Digest.String(), 200, accept...)
	})
	b.Run("head", func(b *testing.B) {
		serveBench(b, h, fasthttp.MethodHead, "/v2/bench/get/manifests/v1", 200, accept...)
	})
}

// BenchmarkTagListGET is GET /v2/<name>/tags/list over 10 000 tags: the
// whole list, and a page of 100 from the middle.
func BenchmarkTagListGET(b *testing.B) {
	h, reg := benchRegistry(b)
	m := benchImage(b, reg, "bench/tags")
	const n = 10000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%05d", i)
	}
	if _, err := reg.PutManifest(context.Background(), "bench/tags", names.Reference{Tag: "latest"}, v1.MediaTypeImageManifest, m, tags); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		serveBench(b, h, fasthttp.MethodGet, "/v2/bench/tags/tags/list", 200)
	})
	b.Run("page100", func(b *testing.B) {
		serveBench(b, h, fasthttp.MethodGet, "/v2/bench/tags/tags/list?n=100&last=t05000", 200)
	})
}
