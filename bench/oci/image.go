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
	// Jobs is how many of the image's blobs are uploaded at once (crane
	// uploads 4 at a time, docker 5); 0 or 1 uploads them one by one.
	Jobs int
}

// PushImage uploads the layers and the config (POST then PUT each, Jobs at
// a time), then, once all are stored, PUTs the manifest under tag.
func (c *Client) PushImage(ctx context.Context, repo, tag string, img Image, o PushOptions) error {
	pushes := make([]func() error, 0, len(img.Layers)+1)
	for _, l := range img.Layers {
		pushes = append(pushes, func() error {
			return c.pushOne(ctx, repo, l.Digest, l.Size, o, func() error {
				return c.PushBlob(ctx, repo, l.Digest, l.Size, payload.New(l.Seed, l.Size))
			})
		})
	}
	pushes = append(pushes, func() error {
		return c.pushOne(ctx, repo, img.ConfigDigest, int64(len(img.Config)), o, func() error {
			return c.PushBlob(ctx, repo, img.ConfigDigest, int64(len(img.Config)), bytesReader(img.Config))
		})
	})
	if err := runJobs(max(o.Jobs, 1), pushes); err != nil {
		return err
	}
	_, err := c.PutManifest(ctx, repo, tag, MediaManifest, img.Manifest)
	return err
}

// runJobs runs fns, at most jobs at a time, and returns the first error
// (after all have finished: no upload is left running behind the caller).
func runJobs(jobs int, fns []func() error) error {
	if jobs == 1 {
		for _, fn := range fns {
			if err := fn(); err != nil {
				return err
			}
		}
		return nil
	}
	sem := make(chan struct{}, jobs)
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- fn()
		}()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
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
