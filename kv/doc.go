// Package kv is mcr's metadata store: the Store port with its two
// implementations, Badger (embedded, the default) and PostgreSQL, the
// keyspace (keys.go, the only file that builds keys), the record codecs,
// seek-based pagination, the PostgreSQL schema migrations (pgschema.go)
// and Badger's backup/restore, and the leader lease that elects one of the
// processes sharing a store to run the background jobs, with the fence
// that checks its term inside a transaction (lease.go). access.go holds
// the patterns every user of the port repeats (a value read out of one
// snapshot, a record loaded and decoded, every record under a prefix
// decoded, the keys under a prefix deleted by a predicate); getmany.go
// reads several independent keys at once (GetMany in a transaction,
// ReadKeys from one snapshot: one statement each on PostgreSQL, where a
// pgTxn also holds its writes back and sends them in one statement,
// postgres_writes.go). kvtest is the
// port's shared suite; pgtest runs throwaway PostgreSQL servers for tests.
//
// Invariants, on both implementations:
//   - When Update returns nil the change is durable: synced by Badger
//     (each commit, or the group-commit barrier shared by concurrent
//     writers), acknowledged by PostgreSQL.
//   - Update is serializable and retries the whole closure on a conflict
//     (Badger's ErrConflict, PostgreSQL's serialization failure or
//     deadlock), so closures must be free of side effects outside the
//     transaction.
//   - View reads one consistent snapshot; so does ReadKeys.
//   - A transaction's reads see its own writes, whenever the store sends
//     them to its server.
//   - Bytes handed to a Scan callback are valid only during that call; Get
//     returns a copy. A Scan callback may read through its transaction.
//   - Operations only one implementation has (backup, value-log GC, size,
//     ping) are optional interfaces in store.go, found by type assertion;
//     so is change notification between processes sharing a store
//     (Changes, changes.go: PostgreSQL LISTEN/NOTIFY, Badger in-process).
//   - Generation rows (g/c/, g/t/) only ever move forward: a published
//     topic's or a repository's tags' generation read in a snapshot tells
//     a cache whether what it holds is still current.
package kv
