package kv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMigrations are the PostgreSQL schema's versions: entry i takes the
// database from version i to i+1. Append only; an applied migration is
// never edited. The version reached is recorded in schema_version, and a
// database at a version past the end of this list (written by a newer
// mcrsrv) is refused rather than used.
//
// This is the SQL schema, the tables the keyspace lives in; the keyspace
// itself has its own version under the "v" key (keys.go).
var pgMigrations = []string{
	// 1: the keyspace. bytea compares bytewise (memcmp, then length), the
	// order Badger iterates in, so prefix ranges and seeks mean the same.
	`CREATE TABLE kv (k bytea PRIMARY KEY, v bytea NOT NULL)`,
}

// migrateLock is the advisory lock key that serializes migrations when
// several replicas start at once ("mcr" in ASCII).
const migrateLock = 0x6d6372

// migrate brings the database to PostgresSchemaVersion in one transaction:
// either every pending migration is applied or none.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return fmt.Errorf("kv: postgres: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("kv: postgres: creating schema_version: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
			return fmt.Errorf("kv: postgres: reading schema_version: %w", err)
		}
		if have > len(pgMigrations) {
			return fmt.Errorf("kv: postgres: the database has schema version %d, newer than this build's %d: run a newer mcrsrv", have, len(pgMigrations))
		}
		for v := have; v < len(pgMigrations); v++ {
			if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
				return fmt.Errorf("kv: postgres: migration to schema version %d: %w", v+1, err)
			}
		}
		if have == len(pgMigrations) {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("kv: postgres: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, len(pgMigrations))
		return err
	})
}
