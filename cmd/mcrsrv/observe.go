package main

import (
	"errors"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// newMetrics wires the gauges of /metrics to the running registry; each
// callback runs at scrape time.
func newMetrics(store *kv.Badger, reg *engine.Registry, uploads *jobs.Pool, bg *background, auditStats func() metrics.AuditStats) *metrics.Metrics {
	return metrics.New(metrics.Sources{
		Uploads: uploads.Stats,
		Actors: func() (int, int) {
			st := reg.ActorStats()
			return st.Actors, st.Queued
		},
		Jobs:  bg.Runner.Statuses,
		Store: store.DB().Size,
		Audit: auditStats,
	})
}

// readiness is /readyz's check: the metadata store is open and the data
// directory takes a synced write.
func readiness(store *kv.Badger, data string) func() error {
	return func() error {
		if store.DB().IsClosed() {
			return errors.New("metadata store closed")
		}
		return metrics.DirWritable(data)
	}
}
