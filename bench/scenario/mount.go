package scenario

import (
	"context"
	"fmt"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
)

const (
	mountBlobs = 64  // blobs in the source repository
	mountDsts  = 256 // destination repositories
)

// Mount links blobs of one source repository into other repositories with
// POST ?mount=&from= (a metadata-only operation in any registry), at
// MountConc. Operation k mounts blob (k/256)%64 into destination k%256, so
// the first 16 384 mounts against a registry are all first-time links.
func Mount(ctx context.Context, e *Env) *Result {
	r, start := begin(e, "mount")
	src := e.repo("mount", "src")
	blobs, err := once(e, "mount-blobs", func() ([]oci.Blob, error) {
		blobs := make([]oci.Blob, mountBlobs)
		for i := range blobs {
			blobs[i] = oci.NewBlob(e.Seed(), 1024)
		}
		return blobs, fanOut(ctx, e.Cfg.SetupConc, len(blobs), func(ctx context.Context, i int) error {
			return e.C.PushBlob(ctx, src, blobs[i].Digest, blobs[i].Size, bytesOf(blobs[i]))
		})
	})
	if err != nil {
		r.fail("set-up", err)
		return end(r, start)
	}
	counter, _ := once(e, "mount-counter", func() (*atomic.Int64, error) { return new(atomic.Int64), nil })
	name := fmt.Sprintf("c=%d", e.Cfg.MountConc)
	o := Run(ctx, Load{Conc: e.Cfg.MountConc, Duration: e.Cfg.Duration, Warmup: e.Cfg.Warmup, Meter: e.Meter}, func(ctx context.Context, _ int, _ int64) error {
		k := counter.Add(1) - 1
		dst := e.repo("mount", fmt.Sprintf("d%03d", k%mountDsts))
		return e.C.MountBlob(ctx, dst, src, blobs[(k/mountDsts)%mountBlobs].Digest)
	})
	r.measured(name, "ops/s", o)
	if counter.Load() > mountBlobs*mountDsts {
		r.note("more than %d mounts in this registry: later ones re-link blobs already linked", mountBlobs*mountDsts)
	}
	return end(r, start)
}
