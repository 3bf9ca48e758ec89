package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// GCConfig sets garbage collection (docs/gc.md).
type GCConfig struct {
	// Interval between scheduled collections; 0 collects only on demand.
	Interval Duration `toml:"interval"`
	// Grace protects content younger than this from collection: layers
	// uploaded for a manifest not pushed yet, untagged manifests, orphan
	// files, empty repositories.
	Grace Duration `toml:"grace"`
	// DeleteUntagged collects untagged manifests older than Grace (except
	// children of live indexes and referrers of live manifests).
	DeleteUntagged bool `toml:"delete_untagged"`
	// UploadExpiry abandons upload sessions idle for this long.
	UploadExpiry Duration `toml:"upload_expiry"`
	// Workers bounds concurrent sweep transactions.
	Workers int `toml:"workers"`
	// Timeout bounds one collection; 0 is none.
	Timeout Duration `toml:"timeout"`
	// OrphanInterval is how often a collection also walks the blob files
	// for orphans (the first collection of a process always does); 0
	// walks every time.
	OrphanInterval Duration `toml:"orphan_interval"`
	// Duty is the share of the time an online collection works; it
	// sleeps the rest, so that pushes and pulls keep the CPU (1 runs
	// flat out). The offline `mcrsrv gc` always runs flat out.
	Duty float64 `toml:"duty"`
}

// JobsConfig sets the background jobs runtime.
type JobsConfig struct {
	// Workers bounds the background jobs that run at once.
	Workers int `toml:"workers"`
	// UploadsInterval is how often abandoned upload sessions are expired;
	// 0 disables the schedule.
	UploadsInterval Duration `toml:"uploads_interval"`
	// VlogInterval is how often Badger's value log is compacted; 0
	// disables it.
	VlogInterval Duration `toml:"vlog_interval"`
	// LeaseTTL is the life of the leader lease that makes one replica
	// run the background jobs (kv.Lease; docs/scale-out.md).
	LeaseTTL Duration `toml:"lease_ttl"`
}

func defaultGC() GCConfig {
	o := gc.DefaultOptions()
	return GCConfig{
		Interval:       Duration{24 * time.Hour},
		Grace:          Duration{o.Grace},
		UploadExpiry:   Duration{o.UploadExpiry},
		Workers:        o.Workers,
		OrphanInterval: Duration{o.OrphanInterval},
		Duty:           o.Duty,
	}
}

func defaultJobs() JobsConfig {
	return JobsConfig{Workers: 2, UploadsInterval: Duration{time.Hour}, VlogInterval: Duration{10 * time.Minute}, LeaseTTL: Duration{10 * time.Second}}
}

func (g GCConfig) validate() []error {
	var errs []error
	for name, d := range map[string]Duration{"gc.interval": g.Interval, "gc.grace": g.Grace, "gc.timeout": g.Timeout, "gc.orphan_interval": g.OrphanInterval} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", name))
		}
	}
	if g.UploadExpiry.Duration < time.Minute {
		errs = append(errs, fmt.Errorf("gc.upload_expiry %v: must be at least 1m (a client may pause between chunks)", g.UploadExpiry.Duration))
	}
	if g.Workers <= 0 {
		errs = append(errs, errors.New("gc.workers: must be positive"))
	}
	if g.Duty <= 0 || g.Duty > 1 {
		errs = append(errs, fmt.Errorf("gc.duty %v: want a share of the time in (0, 1]", g.Duty))
	}
	return errs
}

func (j JobsConfig) validate() []error {
	var errs []error
	if j.Workers <= 0 {
		errs = append(errs, errors.New("jobs.workers: must be positive"))
	}
	for name, d := range map[string]Duration{"jobs.uploads_interval": j.UploadsInterval, "jobs.vlog_interval": j.VlogInterval} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", name))
		}
	}
	if j.LeaseTTL.Duration < 300*time.Millisecond {
		errs = append(errs, fmt.Errorf("jobs.lease_ttl %v: want at least 300ms (it is renewed every third of it)", j.LeaseTTL.Duration))
	}
	return errs
}

func (g GCConfig) options() gc.Options {
	return gc.Options{Grace: g.Grace.Duration, DeleteUntagged: g.DeleteUntagged, UploadExpiry: g.UploadExpiry.Duration, Workers: g.Workers,
		OrphanInterval: g.OrphanInterval.Duration, Duty: g.Duty}
}

// background is the jobs runtime of a serving registry.
type background struct {
	Runner *jobs.Runner
	// Collector runs the collections; a quiet server drops its cache.
	Collector *gc.Collector
	// Cleaned is what start-up removed after a crash (gc.Startup).
	Cleaned gc.AfterCrash
	// Lease elects the replica that runs the background jobs, when the
	// metadata store is shared (PostgreSQL); nil on Badger, which one
	// process opens: that process always leads.
	Lease     *kv.Lease
	stopLease func()
}

// startJobs cleans up after a crash (gc.Startup: interrupted sweeps, whose
// digests the engine refuses to link until then, staging files and blob
// files that belong to nothing, sessions whose files do not match their
// records), then starts the jobs runtime with collection, upload expiry and
// value-log compaction (when the store has a value log) on their schedules.
// The admin API triggers and reads the same jobs through Runner.
//
// On a metadata store several replicas share, the jobs that must run once
// (all but value-log compaction) run on the replica holding the leader
// lease, and every transaction they write in is fenced by it
// (docs/scale-out.md, "Background jobs").
func startJobs(ctx context.Context, c Config, store kv.Store, blobs blobstore.Store, reg *engine.Registry, journal *audit.Journal, log zerolog.Logger) (*background, error) {
	log = log.With().Str("component", "jobs").Logger()
	b := &background{stopLease: func() {}}
	jobStore := store // what the leader-only jobs write through
	if _, single := store.(kv.SingleProcess); !single {
		b.Lease = kv.NewLease(store, kv.LeaseOptions{Name: replicaName(c.Addr), TTL: c.Jobs.LeaseTTL.Duration})
		jobStore = kv.Fenced(store, b.Lease)
	}
	if err := startupCleanup(ctx, c, store, blobs, reg, b, log); err != nil {
		return nil, err
	}
	// The jobs (collections, expiry, repository deletions) write through
	// jobStore, fenced by the lease on a shared store.
	col := gc.New(jobStore, blobs, reg, c.GC.options())
	b.Collector = col
	opts := jobs.Options{
		Workers: c.Jobs.Workers,
		Store:   gc.NewStatusStore(store, b.Lease),
		OnError: func(kind string, err error) {
			log.Warn().Err(err).Str("job", kind).Msg("saving job status failed")
		},
		OnFinish: func(s jobs.Status) {
			ev := log.Info()
			if s.State != jobs.Succeeded {
				ev = log.Warn().Str("error", s.LastError)
			}
			ev.Str("job", s.Kind).Str("state", string(s.State)).Dur("took", s.Finished.Sub(s.Started)).
				RawJSON("result", jsonOrNull(s.LastResult)).Msg("job finished")
			if journal != nil {
				auditJobRun(journal, s)
			}
		},
	}
	if b.Lease != nil {
		opts.Leader = b.Lease
		lctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		logged := make(chan struct{})
		go func() { defer close(done); b.Lease.Run(lctx) }()
		go func() { defer close(logged); logLeadership(lctx, b.Lease, log) }()
		b.stopLease = func() { cancel(); <-done; <-logged }
	}
	r := jobs.NewRunner(opts)
	b.Runner = r
	all := col.Jobs(gc.Schedule{Collect: c.GC.Interval.Duration, Uploads: c.Jobs.UploadsInterval.Duration, Timeout: c.GC.Timeout.Duration})
	if vc, ok := store.(kv.ValueLogCompactor); ok {
		all = append(all, jobs.Job{Kind: "badger-vlog", Every: c.Jobs.VlogInterval.Duration, Run: vlogGC(vc), Local: true})
	}
	if journal != nil {
		all = append(all, auditJobs(c, journal, jobStore)...)
	}
	for _, j := range all {
		if err := r.Register(j); err != nil {
			b.stopLease()
			return nil, err
		}
	}
	if err := r.RegisterFamily(col.RepoDeletions()); err != nil {
		b.stopLease()
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		b.stopLease()
		return nil, err
	}
	return b, nil
}

// startupCleanup runs gc.Startup, which removes files of no record at once
// with no grace period: safe only while no other process writes the same
// stores. Replicas share them when both are servers (PostgreSQL and S3):
// another replica's upload may sit between its file and its record, so
// there start-up cleans nothing, and the leader's collections (which finish
// interrupted sweeps first, and wait out the grace period for files) do it.
func startupCleanup(ctx context.Context, c Config, store kv.Store, blobs blobstore.Store, reg *engine.Registry, b *background, log zerolog.Logger) error {
	if b.Lease != nil && c.Storage.Backend == backendS3 {
		return nil
	}
	began := time.Now()
	cleaned, err := gc.New(store, blobs, reg, c.GC.options()).Startup(ctx)
	if err != nil {
		return fmt.Errorf("gc: cleaning up after a crash: %w", err)
	}
	b.Cleaned = cleaned
	logStartup(log, cleaned, time.Since(began))
	return nil
}

// leader reports which replica runs the jobs, for the admin API.
func (b *background) leader(addr string) func(context.Context) (apiv1.Leader, error) {
	if b.Lease == nil {
		return func(context.Context) (apiv1.Leader, error) {
			return apiv1.Leader{Replica: replicaName(addr), Self: true}, nil
		}
	}
	return func(ctx context.Context) (apiv1.Leader, error) {
		rec, err := b.Lease.Current(ctx)
		if err != nil {
			return apiv1.Leader{}, err
		}
		self, _ := b.Lease.Leading()
		l := apiv1.Leader{Term: rec.Term, Self: self && rec.Holder == b.Lease.ID()}
		if exp := time.Unix(0, rec.Expires); exp.After(time.Now()) {
			l.Replica, l.Expires = rec.Name, &exp
		}
		return l, nil
	}
}

// logLeadership logs each change of this replica's leadership, until ctx
// ends.
func logLeadership(ctx context.Context, l *kv.Lease, log zerolog.Logger) {
	was := false
	for {
		lead, changed := l.Leading()
		if lead != was {
			ev := log.Info().Int64("term", l.Term())
			if lead {
				ev.Msg("leading the background jobs")
			} else {
				ev.Msg("no longer leading the background jobs")
			}
			was = lead
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// replicaName is how this replica appears as the jobs leader: its host
// and listen address.
func replicaName(addr string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return host + "/" + addr
}

// logStartup reports in one line what start-up cleaned, when it cleaned
// anything: after a clean shutdown nothing is left to clean.
func logStartup(log zerolog.Logger, a gc.AfterCrash, took time.Duration) {
	if a == (gc.AfterCrash{}) {
		return
	}
	log.Warn().Int("sweeps_finished", a.Recovered).
		Int("staging_files", a.Staging).Int64("staging_bytes", a.StagingBytes).
		Int("orphans", a.Orphans).Int64("orphan_bytes", a.OrphanBytes).
		Int("sessions_dropped", a.SessionsDropped).Int("sessions_truncated", a.SessionsTruncated).Int64("truncated_bytes", a.TruncatedBytes).
		Dur("took", took).Msg("cleaned up after a crash")
}

// stop cancels running jobs and waits for them, bounded, then gives the
// leader lease up so that another replica takes over at once.
func (b *background) stop(log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Runner.Stop(ctx); err != nil {
		log.Warn().Err(err).Msg("background jobs did not stop in time")
	}
	b.stopLease()
}

func jsonOrNull(s string) []byte {
	if s == "" || !json.Valid([]byte(s)) {
		return []byte("null")
	}
	return []byte(s)
}

// vlogGC compacts Badger's value log until a pass finds nothing worth
// rewriting.
func vlogGC(store kv.ValueLogCompactor) jobs.Func {
	return func(ctx context.Context, _ *jobs.Progress) (string, error) {
		n, err := store.CompactValueLog(ctx)
		return fmt.Sprintf(`{"rewritten":%d}`, n), err
	}
}

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "collect garbage offline, with the server stopped",
		Description: "Runs one garbage collection over the data directory: unreferenced blobs, unused links,\n" +
			"empty repositories, orphan files and abandoned uploads (and untagged manifests with\n" +
			"gc.delete_untagged). A running server collects on its own schedule; this is for a stopped one.",
		Flags: configFlags("TOML configuration file (for the [gc] settings)",
			&cli.BoolFlag{Name: "dry-run", Usage: "report what would be removed, remove nothing"},
			&cli.DurationFlag{Name: "grace", Usage: "keep content younger than this (overrides gc.grace)"},
			&cli.BoolFlag{Name: "delete-untagged", Usage: "collect untagged manifests too (overrides gc.delete_untagged)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		),
		Action: configAction(func(cmd *cli.Command, c *Config) {
			if cmd.IsSet("grace") {
				c.GC.Grace = Duration{cmd.Duration("grace")}
			}
			if cmd.IsSet("delete-untagged") {
				c.GC.DeleteUntagged = cmd.Bool("delete-untagged")
			}
		}, func(ctx context.Context, cmd *cli.Command, c Config) error {
			return offlineGC(ctx, c, cmd.Bool("dry-run"), cmd.Bool("json"), cmd.Root().Writer)
		}),
	}
}

// offlineGC runs one collection with nothing else writing: the repository
// actors are not needed (gc.Offline), and Badger's directory lock refuses
// to open a store a server still holds. PostgreSQL has no such lock: the
// operator stops every server first (docs/operations.md).
func offlineGC(ctx context.Context, c Config, dry, asJSON bool, w io.Writer) error {
	store, err := openStopped(ctx, c, zerolog.Nop(), "", "stop it, or let it collect online")
	if err != nil {
		return err
	}
	defer store.Close()
	blobs, err := c.Storage.openBlobs(c.Data, nil)
	if err != nil {
		return err
	}
	o := c.GC.options()
	o.Duty = 1 // nothing else runs: no reason to pace
	rep, err := gc.New(store, blobs, gc.Offline{}, o).Run(ctx, gc.RunOptions{DryRun: dry})
	if rep != nil {
		if asJSON {
			fmt.Fprintln(w, rep.JSON())
		} else {
			printReport(w, rep)
		}
	}
	return err
}

func printReport(w io.Writer, r *gc.Report) {
	verb := "removed"
	if r.DryRun {
		verb = "would remove"
	}
	fmt.Fprintf(w, "garbage collection%s in %v\n", map[bool]string{true: " (dry run)"}[r.DryRun], r.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "  marked     %d of %d blobs live, from %d manifests in %d repositories\n", r.Marked, r.Blobs, r.Manifests, r.Repositories)
	fmt.Fprintf(w, "  %s %d blobs (%d bytes), %d orphan files (%d bytes), %d upload sessions (%d bytes)\n",
		verb, r.Swept, r.SweptBytes, r.Orphans, r.OrphanBytes, r.UploadsExpired, r.UploadBytes)
	fmt.Fprintf(w, "  %s %d untagged manifests, %d unused and %d dangling links, %d empty repositories\n",
		verb, r.UntaggedManifests, r.UnusedLinks, r.DanglingLinks, r.EmptyRepositories)
	if r.Kept > 0 || r.Raced > 0 {
		fmt.Fprintf(w, "  kept       %d unreferenced blobs inside the grace period, %d linked meanwhile\n", r.Kept, r.Raced)
	}
	if r.Recovered > 0 || r.RestoredRepos > 0 {
		fmt.Fprintf(w, "  repaired   %d interrupted deletions, %d repository records\n", r.Recovered, r.RestoredRepos)
	}
	fmt.Fprintf(w, "  reclaimed  %d bytes\n", r.ReclaimedBytes())
}
