// Package kv is mcr's metadata store: the Store port, its Badger
// implementation, the keyspace (keys.go, the only file that builds keys),
// the record codecs, seek-based pagination and backup/restore.
//
// Invariants:
//   - Every Update commits with sync: when it returns nil the change is on
//     disk. Badger batches concurrent commits into one fsync (group commit),
//     so many writers share the cost.
//   - Update retries the whole closure on a Badger conflict, so closures must
//     be free of side effects outside the transaction.
//   - Bytes handed to a Scan callback are valid only during that call; Get
//     returns a copy.
package kv
