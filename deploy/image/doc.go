// Command image builds mcr's container image without a container engine:
// a multi-platform OCI image index (one image per platform) of the static
// mcrsrv and mcrctl binaries on an empty base, written as an OCI image
// layout directory that `crane push DIR host/repo:tag` sends as it is.
//
// `make image` cross-compiles the binaries (CGO_ENABLED=0, one GOARCH per
// platform) and runs this program; docs/operations.md ("Container image")
// describes the result.
//
// Invariants:
//   - The same inputs give the same digests: the layer's tar entries have
//     fixed owners, modes and modification times (the image's creation
//     time, taken from the commit), in a fixed order, and every JSON
//     document is built from the inputs only.
//   - The image runs as 65532:65532, never root, and its data directory
//     /var/lib/mcr exists in the layer owned by that user with mode 0700,
//     so a fresh volume mounted there is writable and private.
package main
