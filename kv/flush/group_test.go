package flush

import (
	"errors"
	"testing"
)

// TestStickyError checks that after a failed sync no Wait claims
// durability again, and that no further sync is even tried. (Grouping is
// tested through its user, engine/blobstore's Barrier.)
func TestStickyError(t *testing.T) {
	eio := errors.New("EIO")
	calls := 0
	g := New(func() error {
		calls++
		if calls == 2 {
			return eio
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := g.Wait(); !errors.Is(err, eio) {
			t.Fatalf("Wait after a failed sync = %v, want %v", err, eio)
		}
	}
	if calls != 2 {
		t.Fatalf("%d syncs, want 2: none after the failure", calls)
	}
}
