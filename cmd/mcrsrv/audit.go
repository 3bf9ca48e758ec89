package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// AuditConfig sets the audit log (docs/security.md, docs/operations.md
// "Limits and floods").
type AuditConfig struct {
	// Queue bounds the events waiting to be written; beyond it events are
	// shed and counted (an audit_shed event says how many).
	Queue int `toml:"queue"`
	// MaxAge deletes events older than this; 0 keeps them.
	MaxAge Duration `toml:"max_age"`
	// MaxCount keeps at most this many events, the newest; 0 is no limit.
	// With MaxBytes it bounds the log whatever the traffic.
	MaxCount int `toml:"max_count"`
	// MaxBytes keeps at most this many bytes of events (keys and values,
	// before Badger's own overhead), the newest; 0 is no limit.
	MaxBytes Size `toml:"max_bytes"`
	// RetentionInterval is how often the audit-retention job applies
	// max_age, max_count and max_bytes; 0 runs it on demand only.
	RetentionInterval Duration `toml:"retention_interval"`
	// Pulls records manifest pulls (GET) as well as pushes and deletes.
	Pulls bool `toml:"pulls"`
	// AggregateWindow is the span over which failed logins and anonymous
	// tokens and denials from one source become one event with a count;
	// such an event is written when its window closes.
	AggregateWindow Duration `toml:"aggregate_window"`
}

// The caps' defaults hold years of an ordinary registry's events (tens of
// thousands a day) while keeping a flood that outruns aggregation to a
// few hundred MiB on disk; the job runs hourly so a flood meets the cap
// within the hour, not the day.
func defaultAudit() AuditConfig {
	return AuditConfig{Queue: 4096, MaxAge: Duration{365 * 24 * time.Hour}, MaxCount: 2_000_000, MaxBytes: Size{512 << 20},
		RetentionInterval: Duration{time.Hour}, AggregateWindow: Duration{time.Minute}}
}

func (a AuditConfig) validate() []error {
	var errs []error
	if a.Queue <= 0 {
		errs = append(errs, errors.New("audit.queue: must be positive"))
	}
	if a.MaxCount < 0 {
		errs = append(errs, errors.New("audit.max_count: must not be negative"))
	}
	for name, d := range map[string]Duration{"audit.max_age": a.MaxAge, "audit.retention_interval": a.RetentionInterval} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", name))
		}
	}
	if a.AggregateWindow.Duration < time.Second || a.AggregateWindow.Duration > time.Hour {
		errs = append(errs, fmt.Errorf("audit.aggregate_window %v: want 1s to 1h", a.AggregateWindow.Duration))
	}
	return errs
}

func (a AuditConfig) retention() audit.Retention {
	return audit.Retention{MaxAge: a.MaxAge.Duration, MaxCount: uint64(a.MaxCount), MaxBytes: a.MaxBytes.Bytes}
}

// openJournal starts the durable audit log over store, and the recorder
// every component writes to: an Aggregator that folds floods of failed
// logins and anonymous requests into one event per source and minute.
// Events also go to the process log (audit.Log), as before the journal
// existed, after aggregation: a flood does not fill the log file either.
func openJournal(c Config, store kv.Store, log zerolog.Logger) (*audit.Journal, *audit.Aggregator) {
	j := audit.Open(store, audit.Options{Queue: c.Audit.Queue, OnError: func(err error, n int) {
		log.Error().Err(err).Str("component", "audit").Int("events", n).Msg("writing audit events failed; they are lost")
	}})
	agg := audit.NewAggregator(audit.Tee{j, audit.Log{L: log}}, audit.AggregatorOptions{Window: c.Audit.AggregateWindow.Duration})
	agg.Start()
	return j, agg
}

// closeJournal writes the open aggregates, then flushes the queued events,
// bounded.
func closeJournal(j *audit.Journal, agg *audit.Aggregator, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	agg.Close(ctx)
	if err := j.Close(ctx); err != nil {
		log.Warn().Err(err).Msg("audit events still queued at shutdown were lost")
	}
	if st := j.Stats(); st.Dropped > 0 || st.Failed > 0 {
		log.Warn().Uint64("dropped", st.Dropped).Uint64("failed", st.Failed).Msg("audit events were lost during this run")
	}
}

// auditStats are the audit counters /metrics reports.
func auditStats(j *audit.Journal, agg *audit.Aggregator) func() metrics.AuditStats {
	return func() metrics.AuditStats {
		st := j.Stats()
		return metrics.AuditStats{Written: st.Written, Shed: st.Dropped, Failed: st.Failed, Aggregated: agg.Aggregated(),
			PrunedAge: st.PrunedAge, PrunedCap: st.PrunedCap}
	}
}

// auditJobs is the audit log's retention job.
// Its deletions go through store, fenced by the leader lease where
// replicas share the metadata.
func auditJobs(c Config, j *audit.Journal, store kv.Store) []jobs.Job {
	return []jobs.Job{j.RetentionJob(c.Audit.RetentionInterval.Duration, c.Audit.retention(), store)}
}

// auditJobRun records a finished garbage collection or upload expiry run
// as a gc_run event.
func auditJobRun(rec audit.Recorder, s jobs.Status) {
	if rec == nil || (s.Kind != gc.JobCollect && s.Kind != gc.JobDryRun && s.Kind != gc.JobUploads) {
		return
	}
	outcome := "success"
	if s.State != jobs.Succeeded {
		outcome = string(s.State)
	}
	detail := s.LastResult
	if s.LastError != "" {
		detail = s.LastError
	}
	rec.Record(context.Background(), audit.Event{Time: s.Finished, Kind: audit.GCRun, Action: s.Kind, Outcome: outcome, Detail: detail})
}
