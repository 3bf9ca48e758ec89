package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
)

// Mixed runs MixedPull image pulls (manifest by tag, config and every
// layer, all verified) and the rest image pushes (a new image and tag) over
// MixedRepos repositories at MixedConc for MixedDuration. With GCCmd set it
// runs a second time with that shell command looping (one run every
// GCInterval) and reports the throughput ratio.
func Mixed(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "mixed")
	n := e.Cfg.MixedRepos
	name := func(i int) string { return e.repo("mixed", fmt.Sprintf("r%03d", i)) }
	base, err := once(e, "mixed-base", func() (oci.Image, error) {
		img := newImage(e)
		if err := e.C.PushImage(ctx, name(0), "base", img, oci.PushOptions{HeadFirst: true}); err != nil {
			return img, err
		}
		digests := []string{img.ConfigDigest}
		for _, l := range img.Layers {
			digests = append(digests, l.Digest)
		}
		return img, fanOut(ctx, e.Cfg.SetupConc, n-1, func(ctx context.Context, i int) error {
			for _, d := range digests {
				if err := e.C.MountBlob(ctx, name(i+1), name(0), d); err != nil {
					return err
				}
			}
			_, err := e.C.PutManifest(ctx, name(i+1), "base", oci.MediaManifest, img.Manifest)
			return err
		})
	})
	if err != nil {
		r.fail("set-up", err)
		return end(r, start)
	}
	noGC := mixedCase(ctx, e, r, "no GC", base, name, "")
	if e.Cfg.GCCmd == "" {
		r.note("GC: no -gc-cmd given, so the with-GC case did not run")
		return end(r, start)
	}
	withGC := mixedCase(ctx, e, r, "with GC", base, name, e.Cfg.GCCmd)
	if noGC > 0 {
		r.add("with GC / no GC", "throughput", "%", 100*withGC/noGC, true)
	}
	return end(r, start)
}

func mixedCase(ctx context.Context, e *Env, r *Result, label string, base oci.Image, name func(int) string, gcCmd string) float64 {
	c := fmt.Sprintf("%s c=%d", label, e.Cfg.MixedConc)
	var pulls, pushes atomic.Int64
	opts := oci.PushOptions{HeadFirst: e.Cfg.HeadFirst}
	gctx, stopGC := context.WithCancel(ctx)
	var gcRuns, gcErrs atomic.Int64
	var gcErr atomic.Value
	var wg sync.WaitGroup
	if gcCmd != "" {
		wg.Go(func() {
			for gctx.Err() == nil {
				out, err := exec.CommandContext(gctx, "sh", "-c", gcCmd).CombinedOutput()
				if gctx.Err() != nil {
					return
				}
				gcRuns.Add(1)
				if err != nil {
					gcErrs.Add(1)
					gcErr.Store(fmt.Sprintf("gc command: %v: %s", err, out))
				}
				select {
				case <-gctx.Done():
				case <-time.After(e.Cfg.GCInterval):
				}
			}
		})
	}
	measureFrom := time.Now().Add(e.Cfg.Warmup) // as Run counts: ops that start after the warm-up
	o := Run(ctx, Load{Conc: e.Cfg.MixedConc, Duration: e.Cfg.MixedDuration, Warmup: e.Cfg.Warmup}, func(ctx context.Context, _ int, _ int64) error {
		counted := time.Now().After(measureFrom)
		repo := name(rand.IntN(e.Cfg.MixedRepos))
		if rand.Float64() < e.Cfg.MixedPull {
			if err := pullImage(ctx, e.C, repo, "base", base); err != nil {
				return err
			}
			if counted {
				pulls.Add(1)
			}
			return nil
		}
		if err := e.C.PushImage(ctx, repo, fmt.Sprintf("m%d", e.Seed()), newImage(e), opts); err != nil {
			return err
		}
		if counted {
			pushes.Add(1)
		}
		return nil
	})
	stopGC()
	wg.Wait()
	r.absorb(c, o)
	if n := gcErrs.Load(); n > 0 {
		r.absorb(c, Outcome{Errors: n, Samples: []string{gcErr.Load().(string)}})
	}
	secs := o.Elapsed.Seconds()
	r.rate(c, "ops/s", o.Rate())
	r.add(c, "pulls", "images/s", float64(pulls.Load())/secs, true)
	r.add(c, "pushes", "images/s", float64(pushes.Load())/secs, true)
	r.add(c, "p99", "ms", ms(o.Pct(0.99)), false)
	r.add(c, "errors", "count", float64(o.Errors+gcErrs.Load()), false)
	if gcCmd != "" {
		r.add(c, "GC runs", "count", float64(gcRuns.Load()), true)
	}
	return o.Rate()
}
