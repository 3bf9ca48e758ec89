package server

import (
	"context"
	"net"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// TestNullRegistry runs what the scenarios the null registry serves do
// through the harness's own client, which checks every answer: uploads
// whole and chunked, blob and manifest GET and HEAD, mounts, and an
// unknown blob.
func TestNullRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeNull(ctx, addr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("null registry not listening: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := oci.New(addr, oci.Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	img := oci.NewImage(1, []int64{1000, 70000})
	if err := c.PushImage(ctx, "a/b", "v1", img, oci.PushOptions{HeadFirst: true, Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetKnownManifest(ctx, "a/b", "v1", img.ManifestDigest, img.Manifest); err != nil {
		t.Fatal(err)
	}
	if err := c.HeadManifest(ctx, "a/b", "v1", img.ManifestDigest, int64(len(img.Manifest))); err != nil {
		t.Fatal(err)
	}
	for _, l := range img.Layers {
		if _, err := c.GetBlobContent(ctx, "a/b", l); err != nil {
			t.Fatal(err)
		}
		if err := c.MountBlob(ctx, "c/d", "a/b", l.Digest); err != nil {
			t.Fatal(err)
		}
	}
	chunked := oci.NewBlob(2, 3<<20+5)
	if err := c.PushBlobChunked(ctx, "a/b", chunked.Digest, chunked.Size, 1<<20, payload.New(chunked.Seed, chunked.Size)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBlob(ctx, "a/b", chunked.Digest, chunked.Size); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.BlobExists(ctx, "a/b", "sha256:00", 1); err != nil || ok {
		t.Fatalf("unknown blob: exists %v, %v", ok, err)
	}
}
