// Package scenario holds the benchmark's workloads (push-large, pull-large,
// push-image, pull-manifest, pull-blob-small, tag-list, mount, catalog,
// mixed) and the closed-loop runner that drives them.
//
// Invariants:
//   - Every scenario is bounded: each measured case stops at a duration, an
//     operation count, or both, and a run stops early after a few errors.
//   - Every response is verified by the oci client (statuses, digests,
//     lengths, listing contents); a failed check is an error, errors are
//     counted per scenario, and a scenario with any error has failed.
//   - Only operations that succeed contribute latencies and throughput.
//   - Set-up work (the 10 000-tag repository, the 10 000 repositories of
//     the catalog, ...) is done once per registry, concurrently, by pushing
//     one manifest and PUTting it under many tags or repositories; it is
//     never timed, and it is skipped when the registry already holds it.
package scenario
