// Package durable writes files so that a success means the bytes are on
// stable storage (docs/design.md §4): a new file is created exclusively,
// written, fsynced and closed before WriteFile returns nil, and SyncDir
// fsyncs a directory so the entries created in it survive a crash.
//
// It is a leaf: the standard library only. Its users are the snapshot
// writer and the server's first-admin password file; the blob store keeps
// its own staging files, which are written in parts and synced by a
// barrier.
package durable
