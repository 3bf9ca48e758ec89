package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestDescribe(t *testing.T) {
	toolchain := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name, v, c string
		read       func() (*debug.BuildInfo, bool)
		want       string
	}{
		{"stamped", "v1.2.0-3-gfedcba9", "fedcba9876543210", toolchain, "v1.2.0-3-gfedcba9 fedcba987654"},
		{"stamped, untagged and dirty", "fedcba9-dirty", "fedcba9876543210", toolchain, "fedcba9-dirty fedcba987654"},
		{"not stamped", "", "", toolchain, "(devel) 0123456789ab"},
		{"commit only from the toolchain", "v1.0.0", "", toolchain, "v1.0.0 0123456789ab"},
		{"nothing at all", "", "", none, "unknown"},
	} {
		if got := describe(tc.v, tc.c, tc.read); got != tc.want {
			t.Errorf("%s: describe(%q, %q) = %q, want %q", tc.name, tc.v, tc.c, got, tc.want)
		}
	}
}
