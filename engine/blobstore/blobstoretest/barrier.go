// Package blobstoretest helps tests open the stores the way mcrsrv serve
// does.
package blobstoretest

import (
	"errors"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

// Barrier returns a group-commit barrier over dir, closed when the test
// ends, or nil where the platform has no filesystem sync (the stores then
// fsync each file, as mcrsrv serve does there).
func Barrier(t testing.TB, dir string) *blobstore.Barrier {
	t.Helper()
	b, err := blobstore.NewBarrier(dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
