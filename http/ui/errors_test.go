package ui

import (
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

func TestEveryKindHasStatus(t *testing.T) {
	for _, k := range errcode.Kinds() {
		s, ok := status[k]
		if !ok {
			t.Errorf("kind %d has no status", k)
			continue
		}
		if (k == errcode.Internal) != (s >= 500) {
			t.Errorf("kind %d maps to %d: only internal errors are 5xx", k, s)
		}
	}
}
