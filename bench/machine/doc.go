// Package machine measures the limits of the machine the benchmark runs
// on, in the same run as the registries, so results can be read against
// them: single-core SHA-256, loopback TCP, and sequential write + fsync.
// It also describes the machine (CPU, cores, memory, kernel) from /proc.
package machine
