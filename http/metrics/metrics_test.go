package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/jobs"
)

func TestLabelsBounded(t *testing.T) {
	m := New(Sources{})
	for _, meth := range []string{"GET", "BREW", "get", strings.Repeat("X", 100)} {
		m.Observe(Request{Route: "blob", Method: meth, Status: 200, BytesIn: 3, BytesOut: 5, Duration: time.Millisecond})
	}
	out := exposed(m)
	wantLines(t, out,
		`mcr_http_requests_total{route="blob",method="GET",status="200"} 1`,
		`mcr_http_requests_total{route="blob",method="other",status="200"} 3`,
		`mcr_http_request_bytes_total{route="blob"} 12`,
		`mcr_http_response_bytes_total{route="blob"} 20`,
		`mcr_http_request_duration_seconds_bucket{route="blob",method="other",status="200",le="0.005"} 3`,
	)
	if strings.Contains(out, "BREW") || strings.Contains(out, `"get"`) {
		t.Error("an unbounded method reached a label")
	}
}

func TestJobSeries(t *testing.T) {
	var b bytes.Buffer
	writeJobs(&b, []jobs.Status{
		{Kind: "never"},
		{Kind: "broken", Runs: 2, LastError: "boom", LastResult: "not json", Started: time.Unix(5, 0)},
		{Kind: "gc", State: jobs.Running, Runs: 1, Started: time.Unix(10, 0), Finished: time.Unix(4, 0), LastResult: `{"reclaimed_bytes":7}`},
	})
	out := b.String()
	wantLines(t, out,
		`mcr_job_runs_total{job="never"} 0`, `mcr_job_last_failed{job="never"} 0`,
		`mcr_job_last_failed{job="broken"} 1`, `mcr_job_runs_total{job="broken"} 2`,
		`mcr_job_running{job="gc"} 1`, `mcr_job_last_reclaimed_bytes{job="gc"} 7`,
	)
	// A run in progress (Finished before Started) has no last duration yet.
	if strings.Contains(out, "mcr_job_last_duration_seconds") || strings.Contains(out, `reclaimed_bytes{job="broken"}`) {
		t.Errorf("unexpected series in\n%s", out)
	}
}

func TestAuditSeries(t *testing.T) {
	m := New(Sources{Audit: func() AuditStats {
		return AuditStats{Written: 9, Shed: 1, Failed: 2, Aggregated: 500, PrunedAge: 3, PrunedCap: 4}
	}})
	wantLines(t, exposed(m),
		`mcr_audit_events_written_total 9`, `mcr_audit_events_aggregated_total 500`,
		`mcr_audit_events_dropped_total{reason="queue_full"} 1`, `mcr_audit_events_dropped_total{reason="write_failed"} 2`,
		`mcr_audit_events_dropped_total{reason="age"} 3`, `mcr_audit_events_dropped_total{reason="cap"} 4`,
	)
}

// The upload and start-up clean-up series carry what their sources say.
func TestUploadSeries(t *testing.T) {
	m := New(Sources{
		Staging: func() Staging { return Staging{Sessions: 3, Files: 2, Bytes: 4096} },
		Cleaned: func() Cleaned { return Cleaned{StagingFiles: 5, StagingBytes: 500, OrphanFiles: 1, OrphanBytes: 77} },
	})
	wantLines(t, exposed(m),
		"mcr_upload_sessions 3", "mcr_upload_staging_files 2", "mcr_upload_staging_bytes 4096",
		`mcr_startup_cleanup_files_total{kind="staging"} 5`, `mcr_startup_cleanup_bytes_total{kind="staging"} 500`,
		`mcr_startup_cleanup_files_total{kind="orphan"} 1`, `mcr_startup_cleanup_bytes_total{kind="orphan"} 77`,
	)
}

func TestPostgresSeries(t *testing.T) {
	m := New(Sources{Postgres: func() PostgresStats {
		return PostgresStats{Statements: 120, RoundTrips: 90, EmptyAcquires: 3, EmptyAcquireWaitSecs: 0.25, Conns: 5, MaxConns: 16, SerializationFailures: 7}
	}})
	wantLines(t, exposed(m),
		"mcr_kv_postgres_statements_total 120", "mcr_kv_postgres_round_trips_total 90",
		"mcr_kv_postgres_pool_empty_acquires_total 3", "mcr_kv_postgres_pool_empty_acquire_wait_seconds_total 0.25",
		"mcr_kv_postgres_pool_connections 5", "mcr_kv_postgres_pool_max_connections 16",
		"mcr_kv_postgres_serialization_failures_total 7",
		"# HELP mcr_kv_postgres_statements_total "+help["mcr_kv_postgres_statements_total"],
	)
	if strings.Contains(exposed(New(Sources{})), "mcr_kv_postgres") {
		t.Error("a registry on Badger exposes PostgreSQL series")
	}
}

// exposed is what m writes to a scrape.
func exposed(m *Metrics) string {
	var b bytes.Buffer
	m.Write(&b)
	return b.String()
}

// wantLines fails t for each of lines that out lacks as a whole line.
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.HasPrefix(out, l+"\n") && !strings.Contains(out, "\n"+l+"\n") {
			t.Errorf("missing %q in\n%s", l, out)
		}
	}
}

func TestJobFamilySeries(t *testing.T) {
	m := New(Sources{JobFamilies: func() []jobs.FamilyStats {
		return []jobs.FamilyStats{{Prefix: "repo-delete:", Active: 2, Runs: map[jobs.State]int64{jobs.Succeeded: 5, jobs.Failed: 1}}}
	}})
	wantLines(t, exposed(m),
		`mcr_job_family_runs_total{family="repo-delete",outcome="succeeded"} 5`,
		`mcr_job_family_runs_total{family="repo-delete",outcome="failed"} 1`,
		`mcr_job_family_runs_total{family="repo-delete",outcome="cancelled"} 0`,
		`mcr_job_family_runs_total{family="repo-delete",outcome="interrupted"} 0`,
		`mcr_job_family_active{family="repo-delete"} 2`,
	)
}
