package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test/s3server"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// Backend is where a started registry keeps its data.
type Backend string

// The backends.
const (
	// FS: local files (mcr: blobs under its data directory and metadata
	// in Badger; the reference: its filesystem driver).
	FS Backend = "fs"
	// S3: blobs in a bucket of an S3 server on loopback (versitygw); mcr
	// keeps its metadata in PostgreSQL, the reference keeps everything in
	// the bucket (its s3 driver is its only store).
	S3 Backend = "s3"
)

// ParseBackends reads a comma-separated list of backends (fs, s3).
func ParseBackends(list string) ([]Backend, error) {
	var out []Backend
	for f := range strings.SplitSeq(list, ",") {
		b := Backend(strings.TrimSpace(f))
		if b != FS && b != S3 {
			return nil, fmt.Errorf("backend %q: want fs or s3", b)
		}
		for _, seen := range out {
			if seen == b {
				return nil, fmt.Errorf("backend %q listed twice", b)
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// Name is how reports call a registry of kind k on backend b: the kind
// alone on fs (the comparison's historical names), kind@backend else.
func Name(k Kind, b Backend) string {
	if b == "" || b == FS {
		return string(k)
	}
	return string(k) + "@" + string(b)
}

// S3Target is a bucket on the run's S3 server.
type S3Target struct {
	Endpoint, Region, Bucket, AccessKey, SecretKey string
}

// Storage is where one registry keeps its data when not on FS.
type Storage struct {
	S3 S3Target
	// PostgresDSN is mcr's metadata database (empty for the reference).
	PostgresDSN string
}

// Services are what the S3 backend needs, started once per run and shared
// by every registry on it: one S3 server and one PostgreSQL server. Each
// registry gets its own bucket and, for mcr, its own database, so no
// registry sees another's data.
type Services struct {
	S3    *s3server.Server
	pg    *pgtest.Server
	dir   string
	trace Trace
	next  atomic.Int64
}

// Trace says what the services log, to count requests rather than to
// measure speed.
type Trace struct {
	// S3: versitygw logs every request (S3AccessLog).
	S3 bool
	// SQL: PostgreSQL logs every statement of the databases Fresh
	// creates (SQLLog).
	SQL bool
}

// StartServices starts versitygw (binary s3Bin) with its data in a fresh
// directory under parent, and a throwaway PostgreSQL (kv/pgtest: initdb
// into a temporary directory, a unix socket only), logging what trace
// asks for.
func StartServices(ctx context.Context, s3Bin, parent string, trace Trace) (*Services, error) {
	dir, err := os.MkdirTemp(parent, "bench-services-")
	if err != nil {
		return nil, err
	}
	s := &Services{dir: dir, trace: trace}
	if s.S3, err = s3server.Start(ctx, s3server.Versitygw, s3Bin, dir, s3server.Options{KeepAlive: true, AccessLog: trace.S3}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if s.pg, err = pgtest.Start(); err != nil {
		s.S3.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	return s, nil
}

// Fresh creates a new bucket, and for mcr a new database, for one
// registry of kind k.
func (s *Services) Fresh(ctx context.Context, k Kind) (*Storage, error) {
	n := s.next.Add(1)
	bucket := fmt.Sprintf("bench-%s-%d", k, n)
	if err := s.S3.CreateBucket(ctx, bucket); err != nil {
		return nil, err
	}
	st := &Storage{S3: S3Target{Endpoint: s.S3.Endpoint, Region: s3server.Region, Bucket: bucket,
		AccessKey: s3server.AccessKey, SecretKey: s3server.SecretKey}}
	if k == MCR {
		db, err := s.pg.CreateDatabase(ctx)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL: create database: %w", err)
		}
		if s.trace.SQL {
			if err := s.pg.LogStatements(ctx, db); err != nil {
				return nil, fmt.Errorf("PostgreSQL: %w", err)
			}
		}
		st.PostgresDSN = s.pg.DSN(db)
	}
	return st, nil
}

// S3AccessLog is versitygw's request log (with trace).
func (s *Services) S3AccessLog() string { return s.S3.AccessLogPath() }

// SQLLog is PostgreSQL's log: errors (a serialization failure is one),
// and every statement with Trace.SQL.
func (s *Services) SQLLog() string { return s.pg.LogPath() }

// PostgresPid is the postmaster's process id: the database's CPU is its
// and its children's (machine.SnapTree).
func (s *Services) PostgresPid() int { return s.pg.Pid() }

// Stop stops both servers and removes their data.
func (s *Services) Stop() error {
	s.S3.Stop()
	return errors.Join(s.pg.Stop(), os.RemoveAll(s.dir))
}

// mcrStorageEnv is mcr's configuration for st: blobs in the bucket,
// streamed through mcr (no redirect: the harness measures the registry,
// and the reference is configured alike), metadata in PostgreSQL.
func mcrStorageEnv(st *Storage) []string {
	return []string{
		"MCR_STORAGE_BACKEND=s3",
		"MCR_STORAGE_S3_ENDPOINT=" + st.S3.Endpoint,
		"MCR_STORAGE_S3_BUCKET=" + st.S3.Bucket,
		"MCR_STORAGE_S3_REGION=" + st.S3.Region,
		"MCR_STORAGE_S3_ACCESS_KEY_ID=" + st.S3.AccessKey,
		"MCR_STORAGE_S3_SECRET_ACCESS_KEY=" + st.S3.SecretKey,
		"MCR_STORAGE_S3_REDIRECT=false",
		"MCR_METADATA_BACKEND=postgres",
		"MCR_METADATA_POSTGRES_DSN=" + st.PostgresDSN,
	}
}

// referenceStorage is the storage section of the reference's
// configuration: its filesystem driver under root, or its s3 driver
// (registry/storage/driver/s3-aws of distribution v3.1.2: regionendpoint
// for a non-AWS server, path-style addressing, plain HTTP on loopback)
// with redirects off, so blob GETs stream through it as through mcr.
func referenceStorage(root string, st *Storage) string {
	if st == nil {
		return fmt.Sprintf("  filesystem:\n    rootdirectory: %s\n", root)
	}
	return fmt.Sprintf(`  s3:
    regionendpoint: %s
    region: %s
    bucket: %s
    accesskey: %s
    secretkey: %s
    forcepathstyle: true
    secure: false
  redirect:
    disable: true
`, st.S3.Endpoint, st.S3.Region, st.S3.Bucket, st.S3.AccessKey, st.S3.SecretKey)
}

// Name is the registry's name in reports (see Name).
func (p *Process) Name() string { return Name(p.Kind, p.Backend) }
