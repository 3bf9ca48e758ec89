// Package engine is the registry's domain, free of any transport: the
// Registry service that the HTTP layer calls for every distribution API
// operation. Its sub-packages own one concept each: names (the grammar),
// manifest (parsing and validation), blobstore (content-addressed bytes and
// the group-commit barrier), errcode (the typed errors that leave the
// engine), identity (accounts, keys, tokens), policy (rules and their
// evaluation), audit (the hash-chained event log), gc (online garbage
// collection) and snapshot (consistent backups and their restore).
//
// Invariants:
//   - Reads (manifest and blob GET/HEAD, listings, referrers) use one kv
//     snapshot and never take a lock or pass through an actor.
//   - Manifest and tag mutations and blob-link deletions of repository R
//     run on R's actor, one at a time, each as one kv transaction.
//   - A blob is committed to the blob store (file and directory durable)
//     before the transaction that records it; a record never points at a
//     missing file, except for the window in which GC deletes the record
//     and then the file.
//   - Every error returned to a caller is an *errcode.Error or an internal
//     failure; bad input never becomes an internal failure.
package engine
