package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// newMetrics wires the gauges of /metrics to the running registry; each
// callback runs at scrape time.
func newMetrics(store *kv.Badger, reg *engine.Registry, uploads *jobs.Pool, bg *background) *metrics.Metrics {
	return metrics.New(metrics.Sources{
		Uploads: uploads.Stats,
		Actors: func() (int, int) {
			st := reg.ActorStats()
			return st.Actors, st.Queued
		},
		Jobs: bg.Runner.Statuses,
		Store: func() (lsm, vlog, other int64) {
			u := metadataUsage(store)
			return u.LSM, u.ValueLog, u.Other
		},
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
	})
}

// metadataUsage is the metadata store's disk usage, for /metrics and the
// admin API's status alike. A walk that fails part-way (a file that cannot
// be read) still reports what it summed: a gauge slightly low beats none.
func metadataUsage(store *kv.Badger) kv.DiskUsage {
	u, _ := store.DiskUsage()
	return u
}

// readiness is /readyz's check: the metadata store is open and the data
// directory takes a synced write.
func readiness(store *kv.Badger, data string, blobs blobstore.Store) func() error {
	p, remote := blobs.(pinger)
	return func() error {
		if store.DB().IsClosed() {
			return errors.New("metadata store closed")
		}
		if err := metrics.DirWritable(data); err != nil {
			return err
		}
		if !remote {
			return nil
		}
		// A store over the network (S3) is asked each time: the load
		// balancer's probe is the retry, and the answer turns back to
		// ready as soon as the store answers again.
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		return nil
	}
}

// pinger is a blob store that can say whether it is reachable (s3store).
type pinger interface {
	Ping(ctx context.Context) error
}

// pingTimeout bounds a readiness probe of the blob store.
const pingTimeout = 2 * time.Second
