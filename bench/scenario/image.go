package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
)

// PushImage is the CI pattern: every operation pushes a brand-new image
// (fresh layers, config, manifest, a new tag) into one of ImageRepos
// repositories, at each concurrency of ImageConc. When the harness started
// the registry it also records the registry's peak RSS during each case.
func PushImage(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "push-image")
	opts := oci.PushOptions{HeadFirst: e.Cfg.HeadFirst, Jobs: e.Cfg.ImageJobs}
	inline := int64(0)
	for _, c := range e.Cfg.ImageConc {
		name := fmt.Sprintf("c=%d repos=%d", c, e.Cfg.ImageRepos)
		pool, err := buildImages(ctx, e, e.Cfg.ImagePool)
		if err != nil {
			r.fail(name, err)
			continue
		}
		if e.Mem != nil {
			_ = e.Mem.ResetPeak()
		}
		o := Run(ctx, Load{Conc: c, Duration: e.Cfg.Duration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, i int64) error {
			img := pool.take()
			repo := e.repo("image", fmt.Sprintf("r%02d", i%int64(e.Cfg.ImageRepos)))
			return e.C.PushImage(ctx, repo, fmt.Sprintf("v%d", e.Seed()), img, opts)
		})
		inline += pool.inline.Load()
		r.measured(name, "images/s", o)
		if e.Mem != nil {
			if peak, err := e.Mem.PeakMiB(); err == nil {
				r.add(name, "peak RSS", "MiB", peak, false)
			}
		}
	}
	head := ""
	if e.Cfg.HeadFirst {
		head = "HEAD + "
	}
	r.note("per image: %d layers of %d-%d KiB + config, each %sPOST + PUT, %d blobs at a time, then manifest PUT by tag",
		e.Cfg.ImageLayers, e.Cfg.LayerMin>>10, e.Cfg.LayerMax>>10, head, max(e.Cfg.ImageJobs, 1))
	r.note("layer digests computed before each case for %d images (a CI client knows them from its build); %d images past those were built inside the timed case",
		e.Cfg.ImagePool, inline)
	return end(r, start)
}

// imagePool hands out images built ahead of a timed case, then builds
// more inline if the case outlasts them.
type imagePool struct {
	e      *Env
	imgs   []oci.Image
	next   atomic.Int64
	inline atomic.Int64
}

// buildImages builds n fresh images (their layers' digests computed) on
// every core, before the clock starts: the push is what is measured, not
// the load generator hashing its own layers on the cores the registry
// needs.
func buildImages(ctx context.Context, e *Env, n int) (*imagePool, error) {
	p := &imagePool{e: e, imgs: make([]oci.Image, n)}
	err := fanOut(ctx, runtime.GOMAXPROCS(0), n, func(_ context.Context, i int) error {
		p.imgs[i] = newImage(e)
		return nil
	})
	return p, err
}

func (p *imagePool) take() oci.Image {
	if i := p.next.Add(1) - 1; i < int64(len(p.imgs)) {
		return p.imgs[i]
	}
	p.inline.Add(1)
	return newImage(p.e)
}

// PullManifest GETs one manifest by tag at each concurrency of
// ManifestConc, then HEADs it at ManifestHeadC; every GET body must equal
// the pushed manifest and every Docker-Content-Digest (and HEAD
// Content-Length) must match it.
func PullManifest(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "pull-manifest")
	repo := e.repo("pull")
	img, err := once(e, "pull-manifest", func() (oci.Image, error) {
		img := newImage(e)
		return img, e.C.PushImage(ctx, repo, "latest", img, oci.PushOptions{HeadFirst: true})
	})
	if err != nil {
		r.fail("set-up", err)
		return end(r, start)
	}
	for _, c := range e.Cfg.ManifestConc {
		name := fmt.Sprintf("GET c=%d", c)
		o := Run(ctx, Load{Conc: c, Duration: e.Cfg.Duration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, _ int64) error {
			_, err := e.C.GetKnownManifest(ctx, repo, "latest", img.ManifestDigest, img.Manifest)
			return err
		})
		r.measured(name, "req/s", o)
	}
	name := fmt.Sprintf("HEAD c=%d", e.Cfg.ManifestHeadC)
	size := int64(len(img.Manifest))
	o := Run(ctx, Load{Conc: e.Cfg.ManifestHeadC, Duration: e.Cfg.Duration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, _ int64) error {
		return e.C.HeadManifest(ctx, repo, "latest", img.ManifestDigest, size)
	})
	r.measured(name, "req/s", o)
	return end(r, start)
}

// PullBlobSmall GETs SmallBlobs distinct blobs of SmallBlobSize at random,
// at concurrency SmallConc, comparing every body byte for byte with what
// was pushed (as strong as hashing it, and several times cheaper for the
// load generator, which shares the machine).
func PullBlobSmall(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "pull-blob-small")
	repo := e.repo("small")
	blobs, err := once(e, "small-blobs", func() ([]oci.Blob, error) {
		blobs := make([]oci.Blob, e.Cfg.SmallBlobs)
		for i := range blobs {
			blobs[i] = oci.NewBlob(e.Seed(), e.Cfg.SmallBlobSize)
		}
		return blobs, fanOut(ctx, e.Cfg.SetupConc, len(blobs), func(ctx context.Context, i int) error {
			b := blobs[i]
			return e.C.PushBlob(ctx, repo, b.Digest, b.Size, bytesOf(b))
		})
	})
	if err != nil {
		r.fail("set-up", err)
		return end(r, start)
	}
	name := fmt.Sprintf("GET %d KiB c=%d", e.Cfg.SmallBlobSize>>10, e.Cfg.SmallConc)
	o := Run(ctx, Load{Conc: e.Cfg.SmallConc, Duration: e.Cfg.Duration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, _ int64) error {
		_, err := e.C.GetBlobContent(ctx, repo, blobs[rand.IntN(len(blobs))])
		return err
	})
	r.measured(name, "req/s", o)
	return end(r, start)
}
