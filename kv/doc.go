// Package kv is mcr's metadata store: the Store port, its Badger
// implementation, the keyspace (keys.go, the only file that builds keys),
// the record codecs, seek-based pagination and backup/restore.
//
// Invariants:
//   - When Update returns nil the change is on disk: either Badger fsyncs
//     the commit (SyncWrites, storage.sync = file), or Update waits on the
//     group-commit barrier after the commit (storage.sync = group), a
//     filesystem sync shared by every writer waiting at that moment.
//   - Update retries the whole closure on a Badger conflict, so closures must
//     be free of side effects outside the transaction.
//   - Bytes handed to a Scan callback are valid only during that call; Get
//     returns a copy.
package kv
