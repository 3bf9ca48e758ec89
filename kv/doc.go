// Package kv is mcr's metadata store: the Store port with its two
// implementations, Badger (embedded, the default) and PostgreSQL, the
// keyspace (keys.go, the only file that builds keys), the record codecs,
// seek-based pagination, the PostgreSQL schema migrations (pgschema.go)
// and Badger's backup/restore. access.go holds the patterns every user of
// the port repeats (a value read out of one snapshot, a record loaded and
// decoded, every record under a prefix decoded, the keys under a prefix
// deleted by a predicate). kvtest is the port's shared suite; pgtest
// runs throwaway PostgreSQL servers for tests.
//
// Invariants, on both implementations:
//   - When Update returns nil the change is durable: synced by Badger
//     (each commit, or the group-commit barrier shared by concurrent
//     writers), acknowledged by PostgreSQL.
//   - Update is serializable and retries the whole closure on a conflict
//     (Badger's ErrConflict, PostgreSQL's serialization failure or
//     deadlock), so closures must be free of side effects outside the
//     transaction.
//   - View reads one consistent snapshot.
//   - Bytes handed to a Scan callback are valid only during that call; Get
//     returns a copy. A Scan callback may read through its transaction.
//   - Operations only one implementation has (backup, value-log GC, size,
//     ping) are optional interfaces in store.go, found by type assertion.
package kv
