// Package server starts the registries the benchmark compares as child
// processes on 127.0.0.1, each with a fresh data directory, waits until
// GET /v2/ answers, reads their peak resident memory from /proc, and stops
// them with SIGTERM (then SIGKILL). The harness never links a registry in:
// it only knows how to run the binary.
package server
