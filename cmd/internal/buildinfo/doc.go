// Package buildinfo says which build of mcr is running, for `mcrsrv
// version`, `mcrctl version`, the start-up log line and the admin API's
// status.
//
// `make build` stamps the version (git describe --tags --always --dirty)
// and the commit (git rev-parse HEAD) with -ldflags -X, so a binary built
// without VCS metadata (a tarball, a container build without .git, go
// build -buildvcs=false) still names its source. Without the stamp it falls
// back to what the Go toolchain recorded (module version, vcs.revision).
//
// It lives under cmd/internal because only the two binaries use it, and it
// imports the standard library only, so mcrctl stays a pure API client.
package buildinfo
