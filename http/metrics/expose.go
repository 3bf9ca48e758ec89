package metrics

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// help is the # HELP text of each mcr family. A family missing here is
// still exposed, with a HELP line that only names it, and the exposition
// test fails: add its line when adding a metric.
var help = map[string]string{
	"mcr_http_requests_total":                               "Requests answered, by route, method and status.",
	"mcr_http_request_duration_seconds":                     "Time in the handler, by route, method and status.",
	"mcr_http_request_bytes_total":                          "Request body bytes read, by route.",
	"mcr_http_response_bytes_total":                         "Response body bytes sent, by route.",
	"mcr_uploads_active":                                    "Blob uploads being streamed to disk by the upload pool.",
	"mcr_uploads_queued":                                    "Blob uploads waiting for an upload pool worker.",
	"mcr_actors":                                            "Live repository actors.",
	"mcr_actor_mailbox_depth":                               "Messages waiting in all repository actors' mailboxes.",
	"mcr_badger_lsm_bytes":                                  "Disk space (allocated blocks) of the metadata store's LSM tables.",
	"mcr_badger_vlog_bytes":                                 "Disk space (allocated blocks) of the metadata store's value log.",
	"mcr_badger_other_bytes":                                "Disk space (allocated blocks) of the metadata store's other files: memtable logs, manifest.",
	"mcr_audit_events_written_total":                        "Audit events committed to the log since start.",
	"mcr_audit_events_aggregated_total":                     "Audit events counted into an aggregate (failed logins, anonymous tokens and denials) instead of written on their own.",
	"mcr_audit_events_dropped_total":                        "Audit events that did not make it into the log or left it, by reason: queue_full, write_failed, age, cap.",
	"mcr_upload_sessions":                                   "Open blob upload sessions.",
	"mcr_upload_staging_files":                              "Files in the uploads directory: session files and whole-blob uploads in flight.",
	"mcr_upload_staging_bytes":                              "Bytes the files of the uploads directory hold.",
	"mcr_startup_cleanup_files_total":                       "Files start-up removed after a crash, by kind: staging (no session) or orphan (blob without a record).",
	"mcr_startup_cleanup_bytes_total":                       "Bytes start-up removed after a crash, by kind.",
	"mcr_job_runs_total":                                    "Finished runs of a background job, persisted across restarts.",
	"mcr_job_running":                                       "1 while a run of the job is queued or running.",
	"mcr_job_last_failed":                                   "1 when the job's last run failed.",
	"mcr_job_last_duration_seconds":                         "Duration of the job's last finished run.",
	"mcr_job_last_reclaimed_bytes":                          "Disk space the last run of a collecting job freed (a dry run: would free).",
	"mcr_job_family_runs_total":                             "Finished runs of a family of one-off jobs (repo-delete: one kind per repository) in this process, by outcome.",
	"mcr_job_family_active":                                 "Runs of a job family queued or running in this process.",
	"mcr_storage_size_bytes":                                "Size of a filesystem the registry writes, by the directories on it.",
	"mcr_storage_free_bytes":                                "Free space usable for data on a filesystem (the metadata store's reserve not counted).",
	"mcr_storage_floor_bytes":                               "Free-space floor in force: below it writes that add data are refused (507).",
	"mcr_storage_inodes":                                    "Inodes of a filesystem the registry writes.",
	"mcr_storage_free_inodes":                               "Free inodes of a filesystem.",
	"mcr_storage_floor_inodes":                              "Free-inode floor in force.",
	"mcr_storage_reserve_bytes":                             "Space the metadata store's reserve holds now (0 while released below the floor).",
	"mcr_kv_postgres_statements_total":                      "Statements the PostgreSQL metadata store sent: every query, BEGIN and COMMIT included, each query of a batch.",
	"mcr_kv_postgres_round_trips_total":                     "Exchanges with PostgreSQL: one per query, one per batch.",
	"mcr_kv_postgres_pool_empty_acquires_total":             "Connection acquisitions that found no idle connection in the pool and waited for one to be released or opened.",
	"mcr_kv_postgres_pool_empty_acquire_wait_seconds_total": "Time those acquisitions waited.",
	"mcr_kv_postgres_pool_connections":                      "Open connections of the PostgreSQL pool (the change listener's own connection not counted).",
	"mcr_kv_postgres_pool_max_connections":                  "Bound of the PostgreSQL pool (metadata.postgres.max_conns).",
	"mcr_kv_postgres_serialization_failures_total":          "Transactions PostgreSQL aborted for a serialization failure or deadlock and mcr ran again.",
	"mcr_storage_below_floor":                               "1 while writes that add data are refused for lack of space or inodes.",
}

func init() {
	// The library writes # HELP and # TYPE only when this process-wide
	// switch is on; mcr is the only user of the library in the process.
	vm.ExposeMetadata(true)
}

// withHelp copies an exposition from src to w, giving every # HELP line
// its text: the library writes the family name only. Families of the Go
// runtime and the process, which the library describes no further, get a
// line saying where they come from. A family's metadata written twice
// (by writers that emit it per series) is kept once: the text format
// allows one HELP and one TYPE per family.
func withHelp(w io.Writer, src []byte) error {
	seenHelp := map[string]bool{}
	seenType := map[string]bool{}
	bw := bufio.NewWriter(w)
	for line := range bytes.Lines(src) {
		switch {
		case bytes.HasPrefix(line, []byte("# HELP ")):
			family := strings.Fields(string(line[len("# HELP "):]))[0]
			if seenHelp[family] {
				continue
			}
			seenHelp[family] = true
			_, _ = bw.WriteString("# HELP " + family + " " + helpText(family) + "\n")
		case bytes.HasPrefix(line, []byte("# TYPE ")):
			family := strings.Fields(string(line[len("# TYPE "):]))[0]
			if seenType[family] {
				continue
			}
			seenType[family] = true
			_, _ = bw.Write(line)
		default:
			_, _ = bw.Write(line)
		}
	}
	return bw.Flush()
}

func helpText(family string) string {
	if h, ok := help[family]; ok {
		return h
	}
	switch {
	case strings.HasPrefix(family, "go_"):
		return "Go runtime statistic (runtime/metrics), as exposed by VictoriaMetrics/metrics."
	case strings.HasPrefix(family, "process_"):
		return "Process statistic read from /proc, as exposed by VictoriaMetrics/metrics."
	}
	return family
}
