package kv

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned by Get when the key does not exist.
var ErrNotFound = errors.New("kv: key not found")

// ErrStop may be returned by a Scan callback to end the scan early without
// an error.
var ErrStop = errors.New("kv: stop scan")

// ErrConflict is returned by Update when the transaction still conflicted
// after every retry.
var ErrConflict = errors.New("kv: transaction conflict")

// Reader is a consistent read view of the store.
type Reader interface {
	// Get returns a copy of the value stored at key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Has reports whether key exists, without fetching its value.
	Has(key []byte) (bool, error)
	// Scan visits, in byte order, the keys that start with prefix and sort
	// strictly after prefix+after (every key with the prefix when after is
	// empty). The callback's key and value are only valid during the call;
	// returning ErrStop ends the scan without error. This is a seek, not a
	// scan from the start of the prefix: pagination costs O(page).
	Scan(prefix, after []byte, fn func(key, val []byte) error) error
	// ScanKeys is Scan without fetching values, which for Badger avoids
	// touching the value log.
	ScanKeys(prefix, after []byte, fn func(key []byte) error) error
}

// Txn is a read-write transaction. Reads see the snapshot the transaction
// started from plus its own writes; keys it read are checked for conflicts
// at commit time (serializable isolation).
type Txn interface {
	Reader
	Set(key, val []byte) error
	Delete(key []byte) error
}

// Store is the metadata port. Badger is its implementation; the shared test
// suite in store_test.go is what any other implementation must pass.
type Store interface {
	// View runs fn against a read-only snapshot. No lock is taken.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits it durably,
	// retrying fn from scratch on a conflict.
	Update(ctx context.Context, fn func(Txn) error) error
	// Backup writes a consistent dump of every key to w.
	Backup(ctx context.Context, w io.Writer) error
	Close() error
}
