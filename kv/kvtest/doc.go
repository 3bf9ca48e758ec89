// Package kvtest is the shared test suite of the kv.Store port: every
// contract the engine relies on, stated once, and run by every
// implementation (distribution's storage-driver suite is the model).
//
// The contracts: Get/Has/Set/Delete with copies out; a transaction reads its
// own writes; empty values and binary keys; prefix scans in byte order with
// seek (after) for pagination, long enough to cross any internal page, with
// ErrStop and callback errors, and with reads through the same transaction
// during a scan; read-write transactions that are serializable (a lost
// update and a write skew between two concurrent transactions are both
// impossible: one commit fails and its closure is retried); read-only
// snapshots that see nothing committed after them; a failed or cancelled
// Update writes nothing; values up to the 4 MiB manifest limit; an empty
// prefix scans everything; ErrClosed after Close; and, for stores with the
// optional Backuper and Restorer, a backup restored into an empty store
// (BackupRestore also runs across implementations: the format is shared).
//
// Usage, from an implementation's tests:
//
//	kvtest.Run(t, func(t *testing.T) kv.Store { ... }, kvtest.Options{})
package kvtest
