package main

import (
	"testing"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Global flags work after the command too, as docs/mcrctl.md says.
func TestGlobalFlagsAfterCommand(t *testing.T) {
	var st apiv1.Status
	admin(t, "status", "-o", "json").ok(t).decode(t, &st)
	if st.Version == "" {
		t.Errorf("%+v", st)
	}
	var l apiv1.RuleList
	admin(t, "policy", "ls", "--output", "json").ok(t).decode(t, &l)
	if len(l.Rules) == 0 {
		t.Errorf("%+v", l)
	}
}
