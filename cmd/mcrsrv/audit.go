package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// AuditConfig sets the audit log (docs/security.md).
type AuditConfig struct {
	// Queue bounds the events waiting to be written; beyond it events are
	// shed and counted (an audit_shed event says how many).
	Queue int `toml:"queue"`
	// MaxAge deletes events older than this; 0 keeps them.
	MaxAge Duration `toml:"max_age"`
	// MaxCount keeps at most this many events; 0 is no limit.
	MaxCount int `toml:"max_count"`
	// RetentionInterval is how often the audit-retention job runs; 0 runs
	// it on demand only.
	RetentionInterval Duration `toml:"retention_interval"`
	// Pulls records manifest pulls (GET) as well as pushes and deletes.
	Pulls bool `toml:"pulls"`
}

func defaultAudit() AuditConfig {
	return AuditConfig{Queue: 4096, MaxAge: Duration{365 * 24 * time.Hour}, RetentionInterval: Duration{24 * time.Hour}}
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
	return errs
}

func (a AuditConfig) retention() audit.Retention {
	return audit.Retention{MaxAge: a.MaxAge.Duration, MaxCount: uint64(a.MaxCount)}
}

// openJournal starts the durable audit log over store. Events also go to
// the process log (audit.Log), as before the journal existed.
func openJournal(c Config, store kv.Store, log zerolog.Logger) (*audit.Journal, audit.Recorder) {
	j := audit.Open(store, audit.Options{Queue: c.Audit.Queue, OnError: func(err error, n int) {
		log.Error().Err(err).Str("component", "audit").Int("events", n).Msg("writing audit events failed; they are lost")
	}})
	return j, audit.Tee{j, audit.Log{L: log}}
}

// closeJournal flushes the queued events, bounded.
func closeJournal(j *audit.Journal, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Close(ctx); err != nil {
		log.Warn().Err(err).Msg("audit events still queued at shutdown were lost")
	}
	if st := j.Stats(); st.Dropped > 0 || st.Failed > 0 {
		log.Warn().Uint64("dropped", st.Dropped).Uint64("failed", st.Failed).Msg("audit events were lost during this run")
	}
}

// auditJobs is the audit log's retention job.
func auditJobs(c Config, j *audit.Journal) []jobs.Job {
	return []jobs.Job{j.RetentionJob(c.Audit.RetentionInterval.Duration, c.Audit.retention())}
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
