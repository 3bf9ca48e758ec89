// Package enginetest opens what the engine's tests stand on, the way
// mcrsrv serve opens it: a real Badger store and a real blob store over one
// data directory, each group-committing its writes; and PostgreSQL stores
// on a kv/pgtest database. (The wait helper is its sub-package wait.)
//
// It imports only kv and engine/blobstore, so the engine's own internal
// tests (package engine) and every package above can use it.
package enginetest
