package errcode_test

import (
	"fmt"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// An unreachable metadata store is Unavailable (503), not Internal.
func TestKindOfUnavailableStore(t *testing.T) {
	err := fmt.Errorf("reading a manifest: %w", fmt.Errorf("%w: dial tcp: connection refused", kv.ErrUnavailable))
	if k := errcode.KindOf(err); k != errcode.Unavailable {
		t.Fatalf("KindOf(%v) = %d, want Unavailable", err, k)
	}
	if k := errcode.KindOf(fmt.Errorf("boom")); k != errcode.Internal {
		t.Fatalf("KindOf(plain error) = %d, want Internal", k)
	}
}
