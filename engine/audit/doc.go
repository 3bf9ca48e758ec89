// Package audit defines the events mcr records about security-relevant
// actions (logins, token issuance, denials, pushes and deletes, policy and
// account changes, GC runs), the small interface they are written through
// (Recorder), the Aggregator that turns what anyone can cause at request
// rate (failed logins, anonymous tokens and denials) into one event with a
// count per source and window, and the durable audit log: Journal, which
// appends them to the metadata store.
//
// The log lives under e/<time>/<seq> (kv/keys.go), oldest first, with its
// chain head at g/a. Every stored event carries the SHA-256 of the previous
// event's stored bytes, so Verify can tell an edited, removed or moved
// event from an intact history. Query filters and pages by seeking on the
// key; Prune (the audit-retention job) deletes the oldest events by age,
// count or bytes (the head keeps the size of the events kept) and moves
// the chain's anchor.
//
// Across replicas sharing a PostgreSQL store there is still one chain: a
// batch reads the head and writes it back in one serializable
// transaction, so two replicas' batches conflict and the later one is
// retried after the earlier (kv.Store.Update), and each batch publishes
// Topic so that followers on every replica wake (docs/scale-out.md).
//
// Invariants: Record never fails the request that caused the event and
// never blocks it: Journal queues (bounded) and sheds with a counter and an
// audit_shed event when full. Only Journal's writer goroutine appends to
// the chain; events are never rewritten, only pruned from the oldest end.
// An aggregate is appended whole when its window closes: a crash loses the
// open windows' counts, never a written event, and never breaks the chain.
package audit
