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
		server := k == errcode.Internal || k == errcode.InsufficientStorage || k == errcode.Unavailable
		if server != (s >= 500) {
			t.Errorf("kind %d maps to %d: only the server's own failures are 5xx", k, s)
		}
	}
}
