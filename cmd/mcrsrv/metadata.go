package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// MetadataConfig chooses the metadata store (docs/operations.md,
// "Metadata on PostgreSQL").
type MetadataConfig struct {
	// Backend is "badger" (embedded, in <data>/meta: the default) or
	// "postgres" (a PostgreSQL database that mcrsrv creates its tables
	// in and migrates on start).
	Backend string `toml:"backend"`
	// Postgres reaches the database of backend "postgres".
	Postgres PostgresConfig `toml:"postgres"`
}

// PostgresConfig reaches the PostgreSQL database of metadata.backend
// "postgres".
type PostgresConfig struct {
	// DSN is a libpq connection string or URL, e.g.
	// postgres://mcr:secret@db.example.com:5432/mcr?sslmode=verify-full
	// (the password may also come from PGPASSWORD or ~/.pgpass).
	DSN string `toml:"dsn"`
	// MaxConns bounds the connection pool; 0 is
	// kv.DefaultPostgresMaxConns, 4 per CPU and at least 16.
	MaxConns int `toml:"max_conns"`
	// IdleTxnTimeout has the server end a session left idle inside a
	// transaction this long (a replica paused mid-transaction), so that
	// its locks do not hold up the other replicas or a leader takeover.
	IdleTxnTimeout Duration `toml:"idle_txn_timeout"`
}

const (
	backendBadger   = "badger"
	backendPostgres = "postgres"
)

func (m MetadataConfig) validate() []error {
	var errs []error
	switch m.Backend {
	case backendBadger:
		if m.Postgres.DSN != "" {
			errs = append(errs, errors.New("metadata.postgres.dsn is set but metadata.backend is badger: set metadata.backend = \"postgres\" to use it"))
		}
	case backendPostgres:
		if m.Postgres.DSN == "" {
			errs = append(errs, errors.New("metadata.postgres.dsn: required with metadata.backend postgres (MCR_METADATA_POSTGRES_DSN)"))
		} else if _, err := pgconn.ParseConfig(m.Postgres.DSN); err != nil {
			// Not err itself: it may quote the DSN, password included.
			errs = append(errs, errors.New("metadata.postgres.dsn: not a valid PostgreSQL connection string or URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("metadata.backend %q: want %q or %q", m.Backend, backendBadger, backendPostgres))
	}
	if m.Postgres.IdleTxnTimeout.Duration < 0 {
		errs = append(errs, errors.New("metadata.postgres.idle_txn_timeout: must not be negative"))
	}
	if m.Postgres.MaxConns < 0 || m.Postgres.MaxConns > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("metadata.postgres.max_conns %d: want 0 (the default) or a positive pool size", m.Postgres.MaxConns))
	}
	return errs
}

// metaDir is Badger's directory inside the data directory.
func metaDir(data string) string { return filepath.Join(data, "meta") }

// barrierMetaDir is the metadata directory the group-commit barrier syncs
// besides the data directory: Badger's, or with PostgreSQL (which syncs
// its own log) the data directory again, so that no empty meta/ appears.
func (c Config) barrierMetaDir() string {
	if c.Metadata.Backend == backendPostgres {
		return c.Data
	}
	return metaDir(c.Data)
}

// openMetadata opens the configured metadata store, in one attempt (the
// offline commands). groupSync is Badger's group commit (storage.sync =
// "group"), false for per-commit fsync.
func openMetadata(ctx context.Context, c Config, groupSync bool, log zerolog.Logger) (kv.Store, error) {
	if c.Metadata.Backend != backendPostgres {
		return kv.Open(kv.Options{Dir: metaDir(c.Data), Logger: badgerLogger{log.With().Str("component", "badger").Logger()}, GroupSync: groupSync})
	}
	return kv.OpenPostgres(ctx, kv.PostgresOptions{DSN: c.Metadata.Postgres.DSN, MaxConns: int32(c.Metadata.Postgres.MaxConns),
		OnListenError: listenErrorLogger(log), IdleTxnTimeout: c.Metadata.Postgres.IdleTxnTimeout.Duration})
}

// listenErrorLogger logs the failures of the PostgreSQL change listener
// (it reconnects on its own, every 250 ms): at most one line a minute,
// so that an outage is visible without flooding the log.
func listenErrorLogger(log zerolog.Logger) func(error) {
	var last atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev < int64(time.Minute) || !last.CompareAndSwap(prev, now) {
			return
		}
		log.Warn().Err(err).Str("component", "postgres").Msg("change listener lost its connection; reconnecting (policy changes from other replicas wait until it is back)")
	}
}

// awaitMetadata is openMetadata for serve: a PostgreSQL that is unreachable
// (starting alongside mcrsrv, failing over) is retried with backoff until
// ctx ends, never a crash; a refusal that waiting cannot fix (bad
// credentials, a newer schema) fails at once.
func awaitMetadata(ctx context.Context, c Config, groupSync bool, log zerolog.Logger) (kv.Store, error) {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		s, err := openMetadata(ctx, c, groupSync, log)
		if err == nil {
			if attempt > 1 {
				log.Info().Int("attempt", attempt).Msg("metadata store: PostgreSQL reachable")
			}
			return s, nil
		}
		if !errors.Is(err, kv.ErrUnavailable) {
			return nil, err
		}
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", backoff).Msg("metadata store: PostgreSQL unreachable, retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("metadata store: gave up waiting for PostgreSQL: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// errNoBackup answers a snapshot or restore on a metadata store without a
// backup stream (both of today's stores have one).
var errNoBackup = errors.New("this metadata store cannot be snapshotted: back it up with its own tools (docs/operations.md)")

// openStopped opens c's metadata store for a command that works on a
// stopped server's data directory. missing is appended to the error when
// there is no data; running says what to do instead when the store is
// locked (Badger's directory lock refuses a store a server still holds;
// PostgreSQL has no such lock).
func openStopped(ctx context.Context, c Config, log zerolog.Logger, missing, running string) (kv.Store, error) {
	if err := requireMetadata(c, missing); err != nil {
		return nil, err
	}
	store, err := openMetadata(ctx, c, false, log)
	if err != nil && strings.Contains(err.Error(), "lock") {
		return nil, fmt.Errorf("%w (is the server running? %s)", err, running)
	}
	return store, err
}

// requireMetadata checks that there is registry data to open: Badger's
// directory (a database is checked by connecting to it).
func requireMetadata(c Config, hint string) error {
	if c.Metadata.Backend == backendPostgres {
		return nil
	}
	if _, err := os.Stat(metaDir(c.Data)); err != nil {
		return fmt.Errorf("no registry data in %s%s: %w", c.Data, hint, err)
	}
	return nil
}
