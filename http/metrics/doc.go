// Package metrics is mcr's operator surface over HTTP: the Prometheus
// exposition at /metrics (github.com/VictoriaMetrics/metrics), the liveness
// endpoint /healthz and the readiness endpoint /readyz.
//
// What it owns:
//   - per-request counters, latency histograms and byte counters, labelled
//     by a bounded route name (the endpoint kind, never the raw path, which
//     carries repository names and digests), method and status;
//   - gauges read at scrape time from callbacks the caller supplies
//     (Sources): the upload pool, the repository actors, the jobs runtime,
//     the metadata store's sizes. Nothing polls in the background.
//
// Invariants:
//   - Recording a request takes no lock shared across routes: the series of
//     a (route, method, status) are looked up in a sync.Map and updated
//     atomically (a histogram locks only its own series).
//   - Every label value comes from a fixed set, so the number of series is
//     bounded whatever clients send.
//   - The package reaches the stores only through the callbacks; it imports
//     neither kv nor the engine.
package metrics
