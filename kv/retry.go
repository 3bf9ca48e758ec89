package kv

import (
	"context"
	"math/rand/v2"
	"time"
)

// maxRetries bounds Update's conflict retries. Conflicts come from writers
// of the same few keys (pushes linking one popular base layer, GC and a
// push); with jittered backoff they settle in a few rounds, and running out
// means a livelock worth reporting rather than spinning on.
const maxRetries = 64

// retryConflicts runs try until it returns an error conflict does not
// recognise (nil included), the context ends, or maxRetries attempts all
// conflicted (ErrConflict). Both implementations' Update share it, so a
// serialization failure on PostgreSQL is retried exactly like a Badger
// conflict.
func retryConflicts(ctx context.Context, try func() error, conflict func(error) bool) error {
	backoff := 50 * time.Microsecond
	for range maxRetries {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := try()
		if err == nil || !conflict(err) {
			return err
		}
		// Back off by a random part of a growing window so that the
		// writers that just collided do not collide again in lockstep.
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
		backoff = min(backoff*2, 20*time.Millisecond)
	}
	return ErrConflict
}
