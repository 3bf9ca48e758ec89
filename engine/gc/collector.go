package gc

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// ErrRunning is returned by Run while another run of the same Collector is
// in progress.
var ErrRunning = errcode.New(errcode.Conflict, "a collection is already running")

// Repos serializes maintenance work on a repository with the repository's
// own mutations: online it is the engine's Registry (its actor runs fn);
// offline, with nothing else writing, Offline simply runs fn.
type Repos interface {
	Exclusive(ctx context.Context, repo string, fn func(context.Context) error) error
}

// Offline is the Repos of a stopped registry (mcrsrv gc).
type Offline struct{}

// Exclusive runs fn.
func (Offline) Exclusive(ctx context.Context, _ string, fn func(context.Context) error) error {
	return fn(ctx)
}

// Options configures a Collector.
type Options struct {
	// Grace protects young content: a blob, link, untagged manifest,
	// orphan file or empty repository is removed only once it is older
	// than Grace. It covers the time between a client uploading layers
	// and pushing the manifest that uses them. 0 is no grace (tests).
	Grace time.Duration
	// DeleteUntagged collects untagged manifests older than Grace, except
	// children of a live index and referrers of a live subject. Off, every
	// manifest is a root.
	DeleteUntagged bool
	// UploadExpiry is the age after which an upload session (and its
	// staging file) is abandoned. Default 24h.
	UploadExpiry time.Duration
	// Workers bounds the concurrent sweep transactions. Default 4: the
	// store batches their fsyncs.
	Workers int
	// OrphanInterval is how often a run also walks the blob files for
	// orphans (files without a record). Orphans are left only by a crash
	// or a failed commit between a file's rename and its record, not by
	// normal operation, while the walk reads every blob directory: the
	// first run of a process always walks, later ones only once this
	// long has passed since the last walk. 0 walks on every run.
	OrphanInterval time.Duration
	// Duty is the share of wall time a run works; it sleeps the rest
	// (pacer), so that a collection on a busy registry slows down instead
	// of taking the CPU from pushes and pulls. 0 (or 1 and above) does not
	// pace: offline collections and tests.
	Duty float64
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// DefaultOptions are the settings of a registry with no configuration.
func DefaultOptions() Options {
	return Options{Grace: time.Hour, UploadExpiry: 24 * time.Hour, Workers: 4, OrphanInterval: time.Hour, Duty: 0.1}
}

// Collector garbage-collects one registry's metadata store and blob store.
type Collector struct {
	kv      kv.Store
	blobs   blobstore.Store
	repos   Repos
	o       Options
	running atomic.Bool
	// lastOrphanWalk is when a run last walked the blob files; only the
	// one running run reads and writes it.
	lastOrphanWalk time.Time
	// used remembers what each manifest references, across runs.
	used usedCache
	// hook, set only by tests, is called at points of a sweep: "sweep"
	// before a blob's transaction, "unrecorded" after it committed and
	// before the file is deleted.
	hook func(point, digest string)
}

// New returns a Collector. repos is the engine's *Registry online and
// Offline{} for a stopped registry.
func New(store kv.Store, blobs blobstore.Store, repos Repos, o Options) *Collector {
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.UploadExpiry <= 0 {
		o.UploadExpiry = 24 * time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Collector{kv: store, blobs: blobs, repos: repos, o: o}
}

// DropCache forgets what the mark phase remembered about each manifest
// (usedCache): up to usedCacheMax manifests' blob keys, about 2 MiB of
// live heap after the benchmark's few thousand images and 64 MiB at the
// bound, held between collections that run a day apart by default. A
// server that has gone quiet calls it (cmd/mcrsrv releases memory then);
// the next run decodes every manifest again, as its first run did.
func (c *Collector) DropCache() { c.used.drop() }

// RunOptions are the choices of one run.
type RunOptions struct {
	// DryRun writes nothing and reports what a run would remove.
	DryRun bool
	// Progress, when set, is told how far the run got: done of total units
	// in a phase (total 0 when unknown).
	Progress func(done, total int64, phase string)
}

// Report is what a run did, or in a dry run would do.
type Report struct {
	DryRun   bool          `json:"dry_run"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`

	Repositories int `json:"repositories"` // repositories walked
	Manifests    int `json:"manifests"`    // manifests in the mark snapshot
	Blobs        int `json:"blobs"`        // blob records in the mark snapshot
	Marked       int `json:"marked"`       // of those, referenced by a manifest

	Swept      int           `json:"swept"`       // blobs removed (record, links, file)
	SweptBytes int64         `json:"swept_bytes"` // their size
	Kept       int           `json:"kept"`        // unreferenced blobs kept: younger than the grace period
	Grace      time.Duration `json:"grace_ns"`    // that grace period (gc.grace)
	Raced      int           `json:"raced"`       // unreferenced blobs kept: linked by a push during the run

	UntaggedManifests int `json:"untagged_manifests"` // untagged manifests removed (delete_untagged)
	UnusedLinks       int `json:"unused_links"`       // repository links no manifest of the repository uses
	DanglingLinks     int `json:"dangling_links"`     // links to blobs without a record, inverse links without a link
	EmptyRepositories int `json:"empty_repositories"` // repositories removed
	RestoredRepos     int `json:"restored_repositories"`
	BusyRepositories  int `json:"busy_repositories"` // skipped this run: their actor's queue stayed full

	OrphanWalk     bool  `json:"orphan_walk"`  // this run walked the blob files (Options.OrphanInterval)
	Orphans        int   `json:"orphans"`      // files without a record, removed
	OrphanBytes    int64 `json:"orphan_bytes"` //
	Recovered      int   `json:"recovered"`    // file deletions finished for an interrupted run
	UploadsExpired int   `json:"uploads_expired"`
	UploadBytes    int64 `json:"upload_bytes"` // staging bytes removed with them
}

// ReclaimedBytes is the disk space a run freed (or would free).
func (r *Report) ReclaimedBytes() int64 { return r.SweptBytes + r.OrphanBytes + r.UploadBytes }

// JSON renders the report for a job status.
func (r *Report) JSON() string {
	b, _ := json.Marshal(struct {
		*Report
		Reclaimed int64  `json:"reclaimed_bytes"`
		Took      string `json:"duration"`
		Grace     string `json:"grace"`
	}{r, r.ReclaimedBytes(), r.Duration.String(), r.Grace.String()})
	return string(b)
}

// Run collects garbage once. It returns ErrRunning if a run is already in
// progress. Cancelling ctx stops the run between steps; a blob whose
// record is already gone still has its file and tombstone removed.
func (c *Collector) Run(ctx context.Context, o RunOptions) (*Report, error) {
	if !c.running.CompareAndSwap(false, true) {
		return nil, ErrRunning
	}
	defer c.running.Store(false)
	r := newRun(ctx, c, o)
	err := r.do()
	r.rep.Duration = c.o.Now().Sub(r.rep.Started)
	return r.rep, err
}
