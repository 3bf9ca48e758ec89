package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

// TestManifestCache checks that cached manifests answer exactly what the
// store holds after every acknowledged mutation: a second GET shares the
// first one's decoded manifest; a second push of the same bytes with
// another Content-Type (a payload without mediaType takes it from the
// header) changes the media type served by tag and by digest; a moved
// tag serves its new manifest; a deleted manifest is MANIFEST_UNKNOWN by
// digest and by tag; a manifest over manifestCacheMax is never shared.
func TestManifestCache(t *testing.T) {
	r := newTestEngine(t, Options{})
	if r.manifests == nil {
		t.Fatal("no manifest cache on Badger")
	}
	ctx := context.Background()
	const repo = "cache/app"
	get := func(ref names.Reference) *Manifest {
		t.Helper()
		m, err := r.GetManifest(ctx, repo, ref)
		if err != nil {
			t.Fatalf("GetManifest(%v): %v", ref, err)
		}
		return m
	}
	tag := names.Reference{Tag: "v1"}
	// No mediaType field: the type is the push's Content-Type.
	m := bytes.Replace(pushImage(t, r, repo, []byte("base")), []byte(`"mediaType":"`+v1.MediaTypeImageManifest+`",`), nil, 1)
	res, err := r.PutManifest(ctx, repo, tag, v1.MediaTypeImageManifest, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	byDigest := names.Reference{Digest: res.Digest}
	first := get(tag)
	if first.MediaType != v1.MediaTypeImageManifest || first != get(tag) || first != get(byDigest) {
		t.Fatalf("repeated GETs of %s did not share one cached manifest", res.Digest)
	}

	if _, err := r.PutManifest(ctx, repo, byDigest, dockerManifest, m, nil); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []names.Reference{tag, byDigest} {
		if got := get(ref); got.MediaType != dockerManifest {
			t.Errorf("after the second push, GET %v serves %s, want %s", ref, got.MediaType, dockerManifest)
		}
	}

	other := pushImage(t, r, repo, []byte("other"))
	moved, err := r.PutManifest(ctx, repo, tag, v1.MediaTypeImageManifest, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(tag); got.Digest != moved.Digest {
		t.Errorf("after the tag moved, GET serves %s, want %s", got.Digest, moved.Digest)
	}

	if err := r.DeleteManifest(ctx, repo, names.Reference{Digest: moved.Digest}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []names.Reference{tag, {Digest: moved.Digest}} {
		if _, err := r.GetManifest(ctx, repo, ref); errcode.KindOf(err) != errcode.ManifestUnknown {
			t.Errorf("after the delete, GET %v = %v, want MANIFEST_UNKNOWN", ref, err)
		}
	}

	big := bytes.Replace(pushImage(t, r, repo, []byte("big")), []byte(`{"schemaVersion":2,`),
		[]byte(`{"schemaVersion":2,"annotations":{"pad":"`+strings.Repeat("x", manifestCacheMax)+`"},`), 1)
	if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "big"}, v1.MediaTypeImageManifest, big, nil); err != nil {
		t.Fatal(err)
	}
	bigTag := names.Reference{Tag: "big"}
	if a, b := get(bigTag), get(bigTag); a == b || !bytes.Equal(a.Payload, big) {
		t.Errorf("a manifest of %d bytes was cached (over %d)", len(big), manifestCacheMax)
	}
}

// TestManifestCacheOff checks that a store other processes write, or
// one read by statements, gets no manifest cache.
func TestManifestCacheOff(t *testing.T) {
	if r := newTestEngineOn(t, Options{}, true); r.manifests != nil {
		t.Error("a manifest cache on PostgreSQL")
	}
}
