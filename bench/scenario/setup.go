package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// fanOut runs f(0..n-1) on conc goroutines and returns the first error;
// after an error no new task starts.
func fanOut(ctx context.Context, conc, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return ctx.Err()
}

// seedImage is the small fixed image set-up work replicates: fixed content,
// so a second run against the same registry recognises what is there.
func seedImage() oci.Image { return oci.NewImage(1, []int64{1024}) }

// seedRepo pushes the seed image into repo under ref, a tag or, to add no
// tag, its digest (blobs are skipped when present).
func seedRepo(ctx context.Context, e *Env, repo, ref string) (oci.Image, error) {
	img := seedImage()
	if ref == "" {
		ref = img.ManifestDigest
	}
	return img, e.C.PushImage(ctx, repo, ref, img, oci.PushOptions{HeadFirst: true})
}

// present reports whether repo:tag is the seed image: the marker that a
// set-up finished earlier (its last write is that tag).
func present(ctx context.Context, e *Env, repo, tag string, img oci.Image) bool {
	return e.C.HeadManifest(ctx, repo, tag, img.ManifestDigest, int64(len(img.Manifest))) == nil
}

func tagName(i int) string { return fmt.Sprintf("t%06d", i) }

// setupTags gives repo the n tags t000000.. pointing at the seed image:
// one push, then concurrent manifest PUTs; the last tag is written last and
// marks the set-up complete.
func setupTags(ctx context.Context, e *Env, repo string, n int) error {
	_, err := once(e, "tags:"+repo+fmt.Sprint(n), func() (struct{}, error) {
		img := seedImage()
		if present(ctx, e, repo, tagName(n-1), img) {
			return struct{}{}, nil
		}
		e.Logf("%s: set-up: %d tags in %s", e.C.Host(), n, repo)
		if _, err := seedRepo(ctx, e, repo, ""); err != nil {
			return struct{}{}, err
		}
		err := fanOut(ctx, e.Cfg.SetupConc, n-1, func(ctx context.Context, i int) error {
			_, err := e.C.PutManifest(ctx, repo, tagName(i), oci.MediaManifest, img.Manifest)
			return err
		})
		if err == nil {
			_, err = e.C.PutManifest(ctx, repo, tagName(n-1), oci.MediaManifest, img.Manifest)
		}
		return struct{}{}, err
	})
	return err
}

// setupRepos creates the n repositories names(0..n-1), each holding the
// seed image: the blobs are mounted from one source repository and the
// manifest PUT, concurrently; the last repository is written last.
func setupRepos(ctx context.Context, e *Env, key string, n int, name func(int) string) error {
	_, err := once(e, "repos:"+key+fmt.Sprint(n), func() (struct{}, error) {
		img := seedImage()
		if present(ctx, e, name(n-1), "seed", img) {
			return struct{}{}, nil
		}
		e.Logf("%s: set-up: %d repositories %s..", e.C.Host(), n, name(0))
		src := e.repo("seed")
		if _, err := seedRepo(ctx, e, src, "seed"); err != nil {
			return struct{}{}, err
		}
		one := func(ctx context.Context, i int) error {
			repo := name(i)
			for _, d := range []string{img.Layers[0].Digest, img.ConfigDigest} {
				if err := e.C.MountBlob(ctx, repo, src, d); err != nil {
					return err
				}
			}
			_, err := e.C.PutManifest(ctx, repo, "seed", oci.MediaManifest, img.Manifest)
			return err
		}
		if err := fanOut(ctx, e.Cfg.SetupConc, n-1, one); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, one(ctx, n-1)
	})
	return err
}

// layerSizes draws n sizes uniformly in [lo, hi].
func layerSizes(r *rand.Rand, n int, lo, hi int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = lo + r.Int64N(hi-lo+1)
	}
	return s
}

// newImage is a fresh image of the configured shape.
func newImage(e *Env) oci.Image {
	seed := e.Seed()
	r := rand.New(rand.NewPCG(seed, 0x6d6372))
	return oci.NewImage(seed, layerSizes(r, e.Cfg.ImageLayers, e.Cfg.LayerMin, e.Cfg.LayerMax))
}

// pullImage GETs the manifest by tag and every blob it names, verifying
// all (the layers by content, see oci.GetBlobContent).
func pullImage(ctx context.Context, c *oci.Client, repo, tag string, img oci.Image) error {
	if _, err := c.GetKnownManifest(ctx, repo, tag, img.ManifestDigest, img.Manifest); err != nil {
		return err
	}
	if _, err := c.GetBlob(ctx, repo, img.ConfigDigest, int64(len(img.Config))); err != nil {
		return err
	}
	for _, l := range img.Layers {
		if _, err := c.GetBlobContent(ctx, repo, l); err != nil {
			return err
		}
	}
	return nil
}

// bytesOf is the body of a payload blob as a reader.
func bytesOf(b oci.Blob) *payload.Stream { return payload.New(b.Seed, b.Size) }
