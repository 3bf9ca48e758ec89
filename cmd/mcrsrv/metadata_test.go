package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

func TestMetadataConfig(t *testing.T) {
	if b := Defaults().Metadata.Backend; b != backendBadger {
		t.Fatalf("default metadata.backend %q", b)
	}
	c, err := Load("", []string{"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN=host=/run/pg dbname=mcr", "MCR_METADATA_POSTGRES_MAX_CONNS=12"})
	if err != nil || c.Metadata.Backend != backendPostgres || c.Metadata.Postgres.DSN != "host=/run/pg dbname=mcr" || c.Metadata.Postgres.MaxConns != 12 {
		t.Fatalf("from env: %+v, %v", c.Metadata, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid postgres settings: %v", err)
	}
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("[metadata]\nbackend = \"postgres\"\n[metadata.postgres]\ndsn = \"postgres://mcr@db/mcr\"\nmax_conns = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path, nil); err != nil || c.Metadata.Postgres.DSN != "postgres://mcr@db/mcr" || c.Metadata.Postgres.MaxConns != 3 {
		t.Fatalf("from file: %+v, %v", c.Metadata, err)
	}
	for _, tc := range []struct {
		m    MetadataConfig
		want string
	}{
		{MetadataConfig{Backend: "mysql"}, `metadata.backend "mysql"`},
		{MetadataConfig{Backend: backendPostgres}, "metadata.postgres.dsn: required"},
		{MetadataConfig{Backend: backendPostgres, Postgres: PostgresConfig{DSN: "postgres://mcr:s3cret@db:notaport/mcr"}}, "metadata.postgres.dsn: not a valid"},
		{MetadataConfig{Backend: backendBadger, Postgres: PostgresConfig{DSN: "host=db"}}, "metadata.backend is badger"},
		{MetadataConfig{Backend: backendPostgres, Postgres: PostgresConfig{DSN: "host=db", MaxConns: -1}}, "metadata.postgres.max_conns -1"},
	} {
		c := Defaults()
		c.Metadata = tc.m
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.m, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error repeats the DSN's password: %v", err)
		}
	}
}

// logSignal is a log writer that reports each line on a channel.
type logSignal chan string

func (l logSignal) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default: // nobody is waiting for this one
	}
	return len(p), nil
}

// TestAwaitPostgres starts serve's metadata store against a PostgreSQL that
// is not there yet: it waits, retrying, and opens the store once the
// server's socket appears. /readyz's check then passes, and fails once the
// store is closed. Waiting ends with ctx, with an error and no store.
func TestAwaitPostgres(t *testing.T) {
	real, err := pgconn.ParseConfig(pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	// The DSN names a socket directory that is empty until the test links
	// the real server's socket into it.
	dir := t.TempDir()
	sock := filepath.Join(dir, ".s.PGSQL.5432")
	c := Defaults()
	c.Data = t.TempDir()
	c.Metadata = MetadataConfig{Backend: backendPostgres, Postgres: PostgresConfig{DSN: "host=" + dir + " port=5432 user=" + real.User + " dbname=" + real.Database + " sslmode=disable"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	logs := make(logSignal)
	type opened struct {
		s   kv.Store
		err error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := awaitMetadata(context.Background(), c, false, zerolog.New(logs))
		done <- opened{s, err}
	}()
	waitLog(t, logs, "PostgreSQL unreachable, retrying")
	waitLog(t, logs, "PostgreSQL unreachable, retrying") // a second attempt: it keeps trying
	if err := os.Symlink(filepath.Join(real.Host, ".s.PGSQL.5432"), sock); err != nil {
		t.Fatal(err)
	}
	var got opened
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting 30s after PostgreSQL appeared")
	}
	if got.err != nil {
		t.Fatalf("open once reachable: %v", got.err)
	}
	ready := readiness(got.s, c.Data, nil, nil)
	if err := ready(); err != nil {
		t.Fatalf("readiness with PostgreSQL up: %v", err)
	}
	if err := got.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ready(); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("readiness after close: %v", err)
	}

	// Unreachable again: the wait ends with its context.
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		s, err := awaitMetadata(ctx, c, false, zerolog.New(logs))
		done <- opened{s, err}
	}()
	waitLog(t, logs, "PostgreSQL unreachable, retrying")
	cancel()
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting 30s after the context ended")
	}
	if got.s != nil || got.err == nil || !strings.Contains(got.err.Error(), "gave up waiting") {
		t.Fatalf("cancelled wait: %v, %v", got.s, got.err)
	}
}

func waitLog(t *testing.T, logs logSignal, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line := <-logs:
			if strings.Contains(line, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line %q in 30s", want)
		}
	}
}

// TestOfflineCommandsOnPostgres runs the offline commands with the metadata
// in PostgreSQL: init, account and gc work on the database (nothing appears
// under <data>/meta); a snapshot restores into a new, empty database, and
// only into one.
func TestOfflineCommandsOnPostgres(t *testing.T) {
	t.Setenv("MCR_LOG_LEVEL", "error")
	t.Setenv("MCR_METADATA_BACKEND", "postgres")
	t.Setenv("MCR_METADATA_POSTGRES_DSN", pgtest.Database(t))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "init", "--data", data)
	if _, err := os.Stat(metaDir(data)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("init on postgres made %s: %v", metaDir(data), err)
	}
	if out, err := runMcrsrv(t, "init", "--data", data); err == nil || !strings.Contains(err.Error(), "already initialized") {
		t.Fatalf("a second init on the same database: %v\n%s", err, out)
	}
	mustRun(t, "account", "add", "--data", data, "--name", "ci", "--type", "system")
	if out := mustRun(t, "account", "ls", "--data", data); !strings.Contains(out, "ci") || !strings.Contains(out, "admin") {
		t.Fatalf("account ls: %s", out)
	}
	if out := mustRun(t, "gc", "--data", data, "--dry-run"); !strings.Contains(out, "dry run") {
		t.Fatalf("gc --dry-run: %s", out)
	}
	snap := filepath.Join(dir, "snap")
	mustRun(t, "snapshot", "--data", data, "--to", snap)
	if out, err := runMcrsrv(t, "restore", "--from", snap, "--data", filepath.Join(dir, "again")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("restore into the database it came from: %v\n%s", err, out)
	}
	restored := filepath.Join(dir, "restored")
	t.Setenv("MCR_METADATA_POSTGRES_DSN", pgtest.Database(t))
	if out := mustRun(t, "restore", "--from", snap, "--data", restored); !strings.Contains(out, "hash chain intact") {
		t.Fatalf("restore: %s", out)
	}
	if out := mustRun(t, "account", "ls", "--data", restored); !strings.Contains(out, "ci") {
		t.Fatalf("account ls after the restore: %s", out)
	}
}
