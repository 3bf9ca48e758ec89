package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/names"
)

// Content written straight through the engine, for tests whose subject is
// not the push (the UI's pages, the gRPC API's listings).

// Blob stores b in repo and returns its descriptor.
func Blob(t testing.TB, reg *engine.Registry, repo, mediaType string, b []byte) v1.Descriptor {
	t.Helper()
	d := digest.FromBytes(b)
	if err := reg.PutBlob(context.Background(), repo, d, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

// Manifest stores manifest m (marshalled to JSON) in repo under tag (""
// for by digest only) and returns its digest.
func Manifest(t testing.TB, reg *engine.Registry, repo, tag, mediaType string, m any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ref := names.Reference{Tag: tag}
	if tag == "" {
		ref = names.Reference{Digest: digest.FromBytes(b)}
	}
	if _, err := reg.PutManifest(context.Background(), repo, ref, mediaType, b, nil); err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(b).String()
}

// Image stores an image with config cfg (marshalled to JSON) and one layer
// unique to repo:tag, and returns the manifest's digest.
func Image(t testing.TB, reg *engine.Registry, repo, tag string, cfg any, annotations map[string]string) string {
	t.Helper()
	cb, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := Blob(t, reg, repo, v1.MediaTypeImageConfig, cb)
	l := Blob(t, reg, repo, v1.MediaTypeImageLayerGzip, []byte("layer of "+repo+":"+tag))
	return Manifest(t, reg, repo, tag, v1.MediaTypeImageManifest, v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: c, Layers: []v1.Descriptor{l}, Annotations: annotations,
	})
}
