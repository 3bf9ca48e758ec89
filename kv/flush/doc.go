// Package flush is group commit: writers that need what they wrote to be
// durable wait on a Group, and one sync serves every writer waiting when
// it starts, so a burst of N writers costs a few syncs instead of N.
//
// Invariant: Wait returns nil only after a sync that began after the call
// finished without error. A failed sync is sticky: bytes written before it
// may be lost, so no later Wait may claim durability (PostgreSQL's fsync
// lesson).
//
// It is a leaf (the standard library only), shared by the blob store's
// filesystem barrier (engine/blobstore) and the Badger store's log sync
// (kv).
package flush
