package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotFound is returned by Get when the key does not exist. It names no
// kind: the engine turns a missing key into the kind of what was missing
// (ManifestUnknown, BlobUnknown, NameUnknown...); one that escapes
// unconverted is a bug, answered as internal.
var ErrNotFound = errors.New("kv: key not found")

// ErrStop may be returned by a Scan callback to end the scan early without
// an error: it never leaves a Scan.
var ErrStop = errors.New("kv: stop scan")

// ErrClosed is returned by View and Update once the store is closed: the
// server is stopping.
var ErrClosed error = &kindError{"kv: store closed", "Unavailable"}

// ErrUnavailable wraps the errors of a server store that could not be
// reached, or said to come back later: worth retrying, not a bug. It
// reaches a client as 503 with Retry-After.
var ErrUnavailable error = &kindError{"kv: metadata store unavailable", "Unavailable"}

// ErrConflict is returned by Update when the transaction still conflicted
// after every retry: the keys are contended, and the client retries later.
var ErrConflict error = &kindError{"kv: transaction conflict, retry later", "TooManyRequests"}

// ErrTooLarge is returned by a transaction's Set or Delete when the
// transaction has outgrown what the store commits at once (Badger: 15 %
// of a memtable, some 5 000 small records; docs/operations.md
// "Limits"). The request that built it is too large, not the store
// broken: it answers 413.
var ErrTooLarge error = &kindError{"kv: transaction too large to commit at once", "TooLarge"}

// kindError is a sentinel that names its kind in the engine's error
// registry (engine/errcode, which reads ErrorKind): kv sits below the
// engine, so it names the kind instead of importing it.
type kindError struct{ msg, kind string }

func (e *kindError) Error() string     { return e.msg }
func (e *kindError) ErrorKind() string { return e.kind }

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

// Store is the metadata port. Badger (embedded, the default) and PostgreSQL
// implement it; the shared suite in kv/kvtest is what every implementation
// must pass.
type Store interface {
	// View runs fn against a read-only snapshot. No lock is taken.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits it durably,
	// retrying fn from scratch on a conflict.
	Update(ctx context.Context, fn func(Txn) error) error
	Close() error
}

// The optional capabilities below are found by type assertion: only some
// implementations have them, and their users declare what they need.

// Backuper writes a consistent dump of every key to w (Badger's backup
// stream; PostgreSQL is backed up with its own tools).
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) error
}

// Restorer loads a Backuper's stream (from either implementation: both
// write Badger's backup format) into an empty store, before it serves.
type Restorer interface {
	Restore(ctx context.Context, r io.Reader) error
}

// ValueLogCompactor reclaims space an append-only value log holds for
// overwritten values (Badger); a store without one has nothing to compact.
type ValueLogCompactor interface {
	CompactValueLog(ctx context.Context) (rewritten int, err error)
}

// Sizer reports the store's footprint: for Badger its files, for
// PostgreSQL the kv table with its indexes (as LSM) and its out-of-line
// values, the TOAST table (as ValueLog).
type Sizer interface {
	DiskUsage() (DiskUsage, error)
}

// Pinger reports whether the store can serve: open, and for a server
// store, reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// SingleProcess is a store that only one process can open at a time
// (Badger's directory lock): a lease found in it was left by a process
// that is gone, so the leader election (lease.go) need not wait for it to
// expire.
type SingleProcess interface {
	SingleProcess()
}

// RowLocker is a transaction that can lock the row of a key until it
// ends (PostgreSQL). The lease fence uses it (lease.go): a fenced
// transaction reads the lease with GetKeyShare, a takeover with
// GetForUpdate, which waits for every fenced transaction in flight, so the
// takeover is ordered after them in real time, not only in the
// serialization order; a renewal, which only rewrites the value, waits for
// none. Badger has no need: its optimistic commit fails a transaction
// whose read key was written and committed since it began.
type RowLocker interface {
	// GetKeyShare reads key and holds a key-share lock on its row.
	GetKeyShare(key []byte) ([]byte, error)
	// GetForUpdate reads key and holds an exclusive lock on its row.
	GetForUpdate(key []byte) ([]byte, error)
}

// checkSchema writes the keyspace's schema version into an empty store and
// refuses a store written with another one.
func checkSchema(s Store) error {
	return s.Update(context.Background(), func(t Txn) error {
		v, err := t.Get(SchemaKey())
		if errors.Is(err, ErrNotFound) {
			return t.Set(SchemaKey(), binary.AppendUvarint(nil, SchemaVersion))
		}
		if err != nil {
			return err
		}
		got, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("kv: unreadable schema version: %w", ErrCorrupt)
		}
		if got != SchemaVersion {
			return fmt.Errorf("kv: data has schema version %d, this build knows %d", got, SchemaVersion)
		}
		return nil
	})
}
