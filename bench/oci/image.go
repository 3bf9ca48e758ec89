package oci

import (
	"context"
	"encoding/json"
	"fmt"

	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// Blob is a blob whose bytes are the payload stream (Seed, Size).
type Blob struct {
	Seed   uint64
	Size   int64
	Digest string
}

// NewBlob computes the digest of the payload stream (seed, size).
func NewBlob(seed uint64, size int64) Blob {
	return Blob{Seed: seed, Size: size, Digest: payload.Digest(seed, size)}
}

// Image is a single-platform OCI image: layers of pseudo-random bytes, a
// config naming them, and the manifest.
type Image struct {
	Layers         []Blob
	Config         []byte
	ConfigDigest   string
	Manifest       []byte
	ManifestDigest string
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// NewImage builds an image whose layer i is the stream (seed+i+1, sizes[i]).
// Distinct seeds give distinct layers, config and manifest.
func NewImage(seed uint64, sizes []int64) Image {
	img := Image{}
	diffIDs := make([]string, len(sizes))
	for i, s := range sizes {
		b := NewBlob(seed*1_000_003+uint64(i)+1, s)
		img.Layers = append(img.Layers, b)
		diffIDs[i] = b.Digest // not a tar's diff id, but no registry checks
	}
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"bench.seed": fmt.Sprint(seed)}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	img.Config, _ = json.Marshal(cfg)
	img.ConfigDigest = payload.DigestOf(img.Config)
	m := struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{2, MediaManifest, descriptor{MediaConfig, img.ConfigDigest, int64(len(img.Config))}, []descriptor{}}
	for _, l := range img.Layers {
		m.Layers = append(m.Layers, descriptor{MediaLayer, l.Digest, l.Size})
	}
	img.Manifest, _ = json.Marshal(m)
	img.ManifestDigest = payload.DigestOf(img.Manifest)
	return img
}

// PushOptions shape PushImage.
type PushOptions struct {
	// HeadFirst makes a HEAD for each blob before uploading it, as docker
	// and crane do, and skips the upload when the blob exists.
	HeadFirst bool
}

// PushImage uploads the layers and the config (POST then PUT each), then
// PUTs the manifest under tag.
func (c *Client) PushImage(ctx context.Context, repo, tag string, img Image, o PushOptions) error {
	for _, l := range img.Layers {
		if err := c.pushOne(ctx, repo, l.Digest, l.Size, o, func() error {
			return c.PushBlob(ctx, repo, l.Digest, l.Size, payload.New(l.Seed, l.Size))
		}); err != nil {
			return err
		}
	}
	if err := c.pushOne(ctx, repo, img.ConfigDigest, int64(len(img.Config)), o, func() error {
		return c.PushBlob(ctx, repo, img.ConfigDigest, int64(len(img.Config)), bytesReader(img.Config))
	}); err != nil {
		return err
	}
	_, err := c.PutManifest(ctx, repo, tag, MediaManifest, img.Manifest)
	return err
}

func (c *Client) pushOne(ctx context.Context, repo, digest string, size int64, o PushOptions, push func() error) error {
	if o.HeadFirst {
		ok, err := c.BlobExists(ctx, repo, digest, size)
		if err != nil || ok {
			return err
		}
	}
	return push()
}
