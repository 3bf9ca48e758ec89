package scenario

import (
	"context"
	"errors"
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
// MixedRepos repositories at MixedConc for MixedDuration. With GCURL (a
// POST to the registry's GC endpoint) or GCCmd (a shell command) set it
// runs a second time with that trigger looping (one every GCInterval) and
// reports the throughput ratio.
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
	noGC := mixedCase(ctx, e, r, "no GC", base, name, nil)
	gc, err := gcTrigger(ctx, e)
	if err != nil {
		r.fail("GC trigger", err)
		return end(r, start)
	}
	if gc == nil {
		r.note("GC: no -gc-url or -gc-cmd (or the registry has no GC endpoint), so the with-GC case did not run")
		return end(r, start)
	}
	withGC := mixedCase(ctx, e, r, "with GC", base, name, gc)
	if noGC > 0 {
		r.add("with GC / no GC", "throughput", "%", 100*withGC/noGC, true)
	}
	return end(r, start)
}

// gcTrigger returns the function that starts one garbage collection on
// the registry, from -gc-url (a POST, built in) or -gc-cmd (a shell
// command), or nil when there is none. With GCOptional, a registry that
// answers 404 or 405 on GCURL has none.
func gcTrigger(ctx context.Context, e *Env) (func(ctx context.Context) error, error) {
	switch {
	case e.Cfg.GCURL != "":
		trigger := func(ctx context.Context) error {
			_, err := e.C.TriggerGC(ctx, e.Cfg.GCURL)
			return err
		}
		// Probe once: the first collection also starts here, before the
		// with-GC case, as a looping operator's would.
		err := trigger(ctx)
		if errors.Is(err, oci.ErrNoGCEndpoint) && e.Cfg.GCOptional {
			e.Logf("%s: mixed: %v; skipping the with-GC case", e.C.Host(), err)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return trigger, nil
	case e.Cfg.GCCmd != "":
		return func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, "sh", "-c", e.Cfg.GCCmd).CombinedOutput()
			if err != nil {
				return fmt.Errorf("gc command: %v: %s", err, out)
			}
			return nil
		}, nil
	}
	return nil, nil
}

func mixedCase(ctx context.Context, e *Env, r *Result, label string, base oci.Image, name func(int) string, gc func(context.Context) error) float64 {
	c := fmt.Sprintf("%s c=%d", label, e.Cfg.MixedConc)
	var pulls, pushes atomic.Int64
	opts := oci.PushOptions{HeadFirst: e.Cfg.HeadFirst, Jobs: e.Cfg.ImageJobs}
	gctx, stopGC := context.WithCancel(ctx)
	var gcRuns, gcErrs atomic.Int64
	var gcErr atomic.Value
	var wg sync.WaitGroup
	if gc != nil {
		wg.Go(func() {
			for gctx.Err() == nil {
				err := gc(gctx)
				if gctx.Err() != nil {
					return
				}
				gcRuns.Add(1)
				if err != nil {
					gcErrs.Add(1)
					gcErr.Store(err.Error())
				}
				select {
				case <-gctx.Done():
				case <-time.After(e.Cfg.GCInterval):
				}
			}
		})
	}
	measureFrom := time.Now().Add(e.Cfg.Warmup) // as Run counts: ops that start after the warm-up
	o := Run(ctx, Load{Conc: e.Cfg.MixedConc, Duration: e.Cfg.MixedDuration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, _ int64) error {
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
	r.cost(c, o.Ops, o.Cost)
	if gc != nil {
		r.add(c, "GC runs", "count", float64(gcRuns.Load()), true)
	}
	return o.Rate()
}
