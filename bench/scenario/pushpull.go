package scenario

import (
	"context"
	"fmt"

	"git.wntrmute.dev/kyle/mcr/bench/oci"
)

// PushThenPull pushes n fresh images of the configured shape into one
// repository, one request at a time, then pulls each of them (manifest by
// tag, every blob, verified). mark is called with "start", "pushed" and
// "pulled" at the phase boundaries, so a caller can read the counters of
// the services behind the registry and divide by n: what one push and
// one pull cost in requests to them.
func PushThenPull(ctx context.Context, e *Env, n int, mark func(phase string) error) error {
	repo := e.repo("requests")
	imgs := make([]oci.Image, n)
	for i := range imgs {
		imgs[i] = newImage(e)
	}
	if err := mark("start"); err != nil {
		return err
	}
	for i, img := range imgs {
		if err := e.C.PushImage(ctx, repo, fmt.Sprint("r", i), img, oci.PushOptions{HeadFirst: e.Cfg.HeadFirst}); err != nil {
			return err
		}
	}
	if err := mark("pushed"); err != nil {
		return err
	}
	for i, img := range imgs {
		if err := pullImage(ctx, e.C, repo, fmt.Sprint("r", i), img); err != nil {
			return err
		}
	}
	return mark("pulled")
}
