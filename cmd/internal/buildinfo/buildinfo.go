package buildinfo

import "runtime/debug"

// Set by `make build`: -ldflags "-X <this package>.version=... -X <this
// package>.commit=...". Empty when built otherwise.
var (
	version string
	commit  string
)

// shortCommit is how much of a commit hash is printed.
const shortCommit = 12

// String is the version followed by the short commit, e.g.
// "v0.3.0-14-g1a2b3c4 1a2b3c4d5e6f"; "unknown" when nothing says.
func String() string {
	return describe(version, commit, debug.ReadBuildInfo)
}

// describe prefers the stamped values and falls back, field by field, on
// the toolchain's build information.
func describe(v, c string, read func() (*debug.BuildInfo, bool)) string {
	if v == "" || c == "" {
		if bi, ok := read(); ok {
			if v == "" {
				v = bi.Main.Version
			}
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && c == "" {
					c = s.Value
				}
			}
		}
	}
	if v == "" {
		v = "unknown"
	}
	if c == "" {
		return v
	}
	return v + " " + c[:min(len(c), shortCommit)]
}
