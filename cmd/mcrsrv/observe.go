package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// newMetrics wires the gauges of /metrics to the running registry; each
// callback runs at scrape time.
func newMetrics(store kv.Store, reg *engine.Registry, uploads *jobs.Pool, bg *background, space *diskspace.Monitor,
	auditStats func() metrics.AuditStats) *metrics.Metrics {
	src := metrics.Sources{
		Uploads: uploads.Stats,
		Actors: func() (int, int) {
			st := reg.ActorStats()
			return st.Actors, st.Queued
		},
		Jobs: func() []jobs.Status {
			return slices.DeleteFunc(bg.Runner.Statuses(), func(st jobs.Status) bool { return bg.Runner.IsFamily(st.Kind) })
		},
		JobFamilies: bg.Runner.Families,
		Store: func() (lsm, vlog, other int64) {
			u := metadataUsage(store)
			return u.LSM, u.ValueLog, u.Other
		},
		Audit: auditStats,
		Staging: func() metrics.Staging {
			// A scrape has no deadline of its own; the totals are one
			// snapshot scan and one directory read. On an error (a
			// store closing under the scrape) the gauges show what was
			// counted before it: a scrape never fails for them.
			t, _ := reg.UploadTotals(context.Background())
			return metrics.Staging{Sessions: t.Sessions, Files: t.StagingFiles, Bytes: t.StagingBytes}
		},
		Cleaned: func() metrics.Cleaned {
			a := bg.Cleaned
			return metrics.Cleaned{StagingFiles: int64(a.Staging), StagingBytes: a.StagingBytes, OrphanFiles: int64(a.Orphans), OrphanBytes: a.OrphanBytes}
		},
	}
	if space != nil {
		src.Disk = space.Statuses
	}
	if pg, ok := store.(postgresStatser); ok {
		src.Postgres = func() metrics.PostgresStats {
			st := pg.Stats()
			return metrics.PostgresStats{Statements: st.Statements, RoundTrips: st.RoundTrips, EmptyAcquires: st.EmptyAcquires,
				EmptyAcquireWaitSecs: st.EmptyAcquireWait.Seconds(), Conns: st.Conns, MaxConns: st.MaxConns,
				SerializationFailures: st.SerializationFailures}
		}
	}
	return metrics.New(src)
}

// postgresStatser is the PostgreSQL store's counters, for /metrics.
type postgresStatser interface{ Stats() kv.PostgresStats }

// metadataUsage is the metadata store's disk usage, for /metrics and the
// admin API's status alike. A walk that fails part-way (a file that cannot
// be read) still reports what it summed: a gauge slightly low beats none;
// a store that cannot say (a database that does not answer) reports zeros.
func metadataUsage(store kv.Store) kv.DiskUsage {
	sz, ok := store.(kv.Sizer)
	if !ok {
		return kv.DiskUsage{}
	}
	u, _ := sz.DiskUsage()
	return u
}

// probeTimeout bounds a readiness check's question to the metadata store:
// a server store that does not answer in time is reported, not waited for.
const probeTimeout = 2 * time.Second

// readiness is /readyz's check: the metadata store is open and, for a
// server store, answers; and the data directory takes a synced write. A
// disk below its floor is degraded, not down: pulls, deletes and GC still
// work there, and a single registry taken out of rotation would stop
// serving pulls too; the probe write is skipped then, since it would only
// fail for the reason already known. A blob store over the network (S3)
// is asked too, each time: the load balancer's probe is the retry, and
// the answer turns back to ready as soon as the store answers again.
func readiness(store kv.Store, data string, space *diskspace.Monitor, blobs blobstore.Store) func() error {
	return func() error {
		if p, ok := store.(kv.Pinger); ok {
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				return fmt.Errorf("metadata store: %w", err)
			}
		}
		if p, ok := blobs.(blobPinger); ok {
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				return fmt.Errorf("blob store: %w", err)
			}
		}
		if space != nil {
			st, below, err := space.Below()
			if err != nil {
				return err
			}
			if below {
				return &metrics.Degraded{Reason: "storage below its floor, writes refused: " + st.Reason()}
			}
		}
		return metrics.DirWritable(data)
	}
}

// blobPinger is a blob store that can say whether it is reachable
// (s3store).
type blobPinger interface {
	Ping(ctx context.Context) error
}
