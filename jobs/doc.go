// Package jobs runs mcr's background work off the request path: a bounded
// pool for request-scoped work (Pool: blob uploads stream through it), and
// a runner of named jobs (Runner: garbage collection, upload expiry, Badger
// value-log GC), each run on demand or on a schedule, with a status per job
// kind that survives restarts through a StatusStore the caller provides.
//
// Several replicas sharing one metadata store run each job once: with
// Options.Leader set, the jobs that are not Local run only on the process
// that leads (leader.go). A trigger on a follower is a request recorded in
// the shared status store (SharedStatusStore.RequestRun) that the leader
// picks up within Options.Poll; a follower reports the leader's statuses
// from that store. On election a leader takes over what the previous one
// left: a run found Running (its leader died or lost the lead) is marked
// Interrupted and run again, a requested one is started. On losing the
// lead a process cancels its leader-only runs (they end Interrupted) and
// its status saves are fenced (SaveLeaderStatus), so a deposed leader
// never overwrites its successor's status. One-off work named by an
// argument (deleting repository R) is a Family of kinds ("repo-delete:R")
// whose run is made from the kind, so the leader can carry out a request
// any replica recorded; a family kind's status is forgotten Family.Keep
// after its run ended (prune.go), so one-off kinds do not pile up in
// memory, in the store, or in what the leader reads each poll. A follower reads the leader's statuses in one read
// (SharedStatusStore.LoadStatuses), and the leader looks for requests with
// one read per poll.
//
// mcr's Leader is kv.Lease: a lease record with an expiry and a term in
// the metadata store itself, renewed every third of its life. A lease and
// not a PostgreSQL session advisory lock, because a lock lives as long as
// its connection: a leader paused by SIGSTOP or a frozen VM keeps its
// connection, so it would keep the lock and nobody would take over, and
// when it resumed it could not tell that it should stop. A lease expires
// on its own; the term it carries is the fencing token that every
// destructive transaction of a job checks in the same transaction
// (kv.Fenced), so a resumed old leader cannot write. Clocks decide only
// when a challenger may take over (liveness), never whether a write is
// allowed (safety).
//
// The package knows nothing of the registry: jobs are functions, status
// persistence is an interface, and it imports only the standard library
// and github.com/sourcegraph/conc.
//
// Invariants:
//   - With a Leader, a leader-only job runs on at most one process at a
//     time as far as the store is concerned: every write it makes is
//     fenced by the leader's term.
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
