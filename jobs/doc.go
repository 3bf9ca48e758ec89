// Package jobs runs mcr's background work off the request path: a bounded
// pool for request-scoped work (Pool: blob uploads stream through it), and
// a runner of named jobs (Runner: garbage collection, upload expiry, Badger
// value-log GC), each run on demand or on a schedule, with a status per job
// kind that survives restarts through a StatusStore the caller provides.
//
// The package knows nothing of the registry: jobs are functions, status
// persistence is an interface, and it imports only the standard library
// and github.com/sourcegraph/conc.
//
// Invariants:
//   - Every queue is bounded. Pool.Do answers ErrBusy at once when every
//     worker is busy and the queue is full; the Runner keeps at most one
//     pending or running run per job kind (a second trigger is ErrRunning).
//   - A panic in a task or a job is recovered, reported as an error wrapping
//     ErrPanic, and never takes the worker or the process down.
//   - Every goroutine has an owner: Pool.Close and Runner.Stop cancel what
//     is pending, let what runs finish (runs see their context cancelled),
//     and wait for every goroutine they started.
//   - Once a Pool task has started, Do waits for it even if the caller's
//     context ends: a caller never walks away from a task that still uses
//     its arguments (a request body, for instance).
package jobs
