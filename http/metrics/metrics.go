package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Sources are the callbacks the gauges read at scrape time. A nil
// callback leaves its metrics out.
type Sources struct {
	// Uploads reports the upload pool: streams being written and waiting.
	Uploads func() jobs.PoolStats
	// Actors reports the live repository actors and their queued messages.
	Actors func() (actors, queued int)
	// Jobs reports the background jobs, one status per kind: the
	// registered kinds, not a family's (one per argument, e.g. per
	// repository deleted), which JobFamilies counts instead so that no
	// label takes an unbounded set of values.
	Jobs func() []jobs.Status
	// JobFamilies reports each job family's runs in this process.
	JobFamilies func() []jobs.FamilyStats
	// Store reports the metadata store's disk usage in allocated bytes:
	// LSM tables, value log, and the rest (memtable logs, manifest).
	Store func() (lsm, vlog, other int64)
	// Disk reports the filesystems the registry writes: free space and
	// inodes against their floors, and the reserve (disk.go).
	Disk func() ([]diskspace.Status, error)
	// Audit reports the audit log's counters.
	Audit func() AuditStats
	// Staging reports the open upload sessions and the uploads directory.
	Staging func() Staging
	// Cleaned reports what start-up removed after a crash.
	Cleaned func() Cleaned
	// Postgres reports the PostgreSQL metadata store's statements and
	// pool (nil on Badger).
	Postgres func() PostgresStats
}

// Staging is the upload sessions and what their files hold on disk.
type Staging struct {
	Sessions, Files, Bytes int64
}

// Cleaned is what start-up removed: staging files of no session and blob
// files of no record (orphans).
type Cleaned struct {
	StagingFiles, StagingBytes, OrphanFiles, OrphanBytes int64
}

// AuditStats are the audit log's counters since the process started.
type AuditStats struct {
	Written    uint64 // events committed
	Shed       uint64 // dropped: the queue was full
	Failed     uint64 // lost to a failed write
	Aggregated uint64 // counted into an aggregate event instead of written on their own
	PrunedAge  uint64 // deleted by retention: older than audit.max_age
	PrunedCap  uint64 // deleted by retention: beyond audit.max_count or audit.max_bytes
}

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram: Prometheus's defaults stretched to cover multi-minute blob
// transfers.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics records requests and serves /metrics.
type Metrics struct {
	set    *vm.Set
	src    Sources
	series sync.Map // seriesKey -> *series
}

// New returns the metrics over src.
func New(src Sources) *Metrics {
	return &Metrics{set: vm.NewSet(), src: src}
}

// Request is one finished request, as the server's middleware saw it.
type Request struct {
	Route    string // bounded endpoint name: manifest, blob, upload, ...
	Method   string
	Status   int
	BytesIn  int64 // request body bytes, as declared by Content-Length
	BytesOut int64 // response body bytes sent
	Duration time.Duration
}

type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests *vm.Counter
	latency  *vm.PrometheusHistogram
	in, out  *vm.Counter
}

// Observe records a finished request.
func (m *Metrics) Observe(r Request) {
	k := seriesKey{route: r.Route, method: method(r.Method), status: r.Status}
	s, ok := m.series.Load(k)
	if !ok {
		s, _ = m.series.LoadOrStore(k, m.newSeries(k))
	}
	se := s.(*series)
	se.requests.Inc()
	se.latency.Update(r.Duration.Seconds())
	if r.BytesIn > 0 {
		se.in.AddInt64(r.BytesIn)
	}
	if r.BytesOut > 0 {
		se.out.AddInt64(r.BytesOut)
	}
}

// newSeries creates (or finds, when two requests race) the series of k;
// only here is the Set's own lock taken.
func (m *Metrics) newSeries(k seriesKey) *series {
	labels := fmt.Sprintf(`{route=%q,method=%q,status="%d"}`, k.route, k.method, k.status)
	byRoute := fmt.Sprintf(`{route=%q}`, k.route)
	return &series{
		requests: m.set.GetOrCreateCounter("mcr_http_requests_total" + labels),
		latency:  m.set.GetOrCreatePrometheusHistogramExt("mcr_http_request_duration_seconds"+labels, latencyBuckets),
		in:       m.set.GetOrCreateCounter("mcr_http_request_bytes_total" + byRoute),
		out:      m.set.GetOrCreateCounter("mcr_http_response_bytes_total" + byRoute),
	}
}

// method bounds the method label to the ones mcr serves.
func method(m string) string {
	switch m {
	case "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// Serve answers GET /metrics in the Prometheus text format (version 0.0.4).
func (m *Metrics) Serve(ctx *fasthttp.RequestCtx) {
	var b bytes.Buffer
	m.Write(&b)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.SetBody(b.Bytes())
}

// Write writes every metric to w: the request series, the gauges read now
// from the sources, and the Go runtime and process metrics, each family
// with its # HELP and # TYPE lines.
func (m *Metrics) Write(w io.Writer) {
	var b bytes.Buffer
	m.set.WritePrometheus(&b)
	m.writeSources(&b)
	vm.WriteProcessMetrics(&b)
	_ = withHelp(w, b.Bytes())
}

func (m *Metrics) writeSources(w io.Writer) {
	if f := m.src.Uploads; f != nil {
		st := f()
		vm.WriteGaugeUint64(w, "mcr_uploads_active", uint64(max(st.Running, 0)))
		vm.WriteGaugeUint64(w, "mcr_uploads_queued", uint64(max(st.Queued, 0)))
	}
	if f := m.src.Actors; f != nil {
		n, q := f()
		vm.WriteGaugeUint64(w, "mcr_actors", uint64(max(n, 0)))
		vm.WriteGaugeUint64(w, "mcr_actor_mailbox_depth", uint64(max(q, 0)))
	}
	if f := m.src.Store; f != nil {
		lsm, vlog, other := f()
		vm.WriteGaugeUint64(w, "mcr_badger_lsm_bytes", uint64(max(lsm, 0)))
		vm.WriteGaugeUint64(w, "mcr_badger_vlog_bytes", uint64(max(vlog, 0)))
		vm.WriteGaugeUint64(w, "mcr_badger_other_bytes", uint64(max(other, 0)))
	}
	if f := m.src.Audit; f != nil {
		writeAudit(w, f())
	}
	if f := m.src.Staging; f != nil {
		st := f()
		vm.WriteGaugeUint64(w, "mcr_upload_sessions", uint64(max(st.Sessions, 0)))
		vm.WriteGaugeUint64(w, "mcr_upload_staging_files", uint64(max(st.Files, 0)))
		vm.WriteGaugeUint64(w, "mcr_upload_staging_bytes", uint64(max(st.Bytes, 0)))
	}
	if f := m.src.Cleaned; f != nil {
		c := f()
		// Family by family: the text format wants a family's samples together.
		vm.WriteCounterUint64(w, `mcr_startup_cleanup_files_total{kind="staging"}`, uint64(max(c.StagingFiles, 0)))
		vm.WriteCounterUint64(w, `mcr_startup_cleanup_files_total{kind="orphan"}`, uint64(max(c.OrphanFiles, 0)))
		vm.WriteCounterUint64(w, `mcr_startup_cleanup_bytes_total{kind="staging"}`, uint64(max(c.StagingBytes, 0)))
		vm.WriteCounterUint64(w, `mcr_startup_cleanup_bytes_total{kind="orphan"}`, uint64(max(c.OrphanBytes, 0)))
	}
	if f := m.src.Postgres; f != nil {
		writePostgres(w, f())
	}
	if f := m.src.Jobs; f != nil {
		writeJobs(w, f())
	}
	if f := m.src.JobFamilies; f != nil {
		writeJobFamilies(w, f())
	}
	if f := m.src.Disk; f != nil {
		writeDisk(w, f)
	}
}

// writeJobs writes the job series family by family (the text format wants
// a family's samples together). A job whose last result reports
// reclaimed_bytes (garbage collection, upload expiry) also gets
// mcr_job_last_reclaimed_bytes.
func writeJobs(w io.Writer, sts []jobs.Status) {
	label := func(st jobs.Status) string { return "{job=" + strconv.Quote(st.Kind) + "}" }
	for _, st := range sts {
		vm.WriteCounterUint64(w, "mcr_job_runs_total"+label(st), uint64(max(st.Runs, 0)))
	}
	for _, st := range sts {
		vm.WriteGaugeUint64(w, "mcr_job_running"+label(st), b2u(st.Active()))
	}
	for _, st := range sts {
		vm.WriteGaugeUint64(w, "mcr_job_last_failed"+label(st), b2u(st.Runs > 0 && st.LastError != ""))
	}
	for _, st := range sts {
		if !st.Started.IsZero() && !st.Finished.IsZero() && !st.Finished.Before(st.Started) {
			vm.WriteGaugeFloat64(w, "mcr_job_last_duration_seconds"+label(st), st.Finished.Sub(st.Started).Seconds())
		}
	}
	for _, st := range sts {
		if r, ok := reclaimed(st); ok {
			vm.WriteGaugeUint64(w, "mcr_job_last_reclaimed_bytes"+label(st), uint64(max(r, 0)))
		}
	}
}

// familyOutcomes are the ends a family run can have, each always
// exposed so that a rate over any of them starts from 0.
var familyOutcomes = [...]jobs.State{jobs.Succeeded, jobs.Failed, jobs.Cancelled, jobs.Interrupted}

// writeJobFamilies writes a family's runs by outcome and its active runs,
// labelled by the family's prefix without its separator ("repo-delete").
func writeJobFamilies(w io.Writer, fams []jobs.FamilyStats) {
	label := func(f jobs.FamilyStats) string {
		return "{family=" + strconv.Quote(strings.TrimRight(f.Prefix, ":/-_."))
	}
	for _, f := range fams {
		for _, o := range familyOutcomes {
			vm.WriteCounterUint64(w, "mcr_job_family_runs_total"+label(f)+`,outcome="`+string(o)+`"}`, uint64(max(f.Runs[o], 0)))
		}
	}
	for _, f := range fams {
		vm.WriteGaugeUint64(w, "mcr_job_family_active"+label(f)+"}", uint64(max(f.Active, 0)))
	}
}

// writeAudit writes the audit counters: every event that did not make it
// into the log, or left it, is in mcr_audit_events_dropped_total with why.
func writeAudit(w io.Writer, st AuditStats) {
	vm.WriteCounterUint64(w, "mcr_audit_events_written_total", st.Written)
	vm.WriteCounterUint64(w, "mcr_audit_events_aggregated_total", st.Aggregated)
	for _, d := range [...]struct {
		reason string
		n      uint64
	}{{"queue_full", st.Shed}, {"write_failed", st.Failed}, {"age", st.PrunedAge}, {"cap", st.PrunedCap}} {
		vm.WriteCounterUint64(w, `mcr_audit_events_dropped_total{reason="`+d.reason+`"}`, d.n)
	}
}

// reclaimed reads reclaimed_bytes from a job's last result, when it has one.
func reclaimed(st jobs.Status) (int64, bool) {
	if st.LastResult == "" {
		return 0, false
	}
	var r struct {
		Reclaimed *int64 `json:"reclaimed_bytes"`
	}
	if json.Unmarshal([]byte(st.LastResult), &r) != nil || r.Reclaimed == nil {
		return 0, false
	}
	return *r.Reclaimed, true
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
