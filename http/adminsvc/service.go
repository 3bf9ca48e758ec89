package adminsvc

import (
	"context"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Deps are the components the service drives. Registry and Jobs (with
// garbage collection's jobs and gc.Collector.RepoDeletions registered) are
// required; a nil Identity, Policy, Journal or Snapshot makes the
// operations over it fail with Conflict (that part is not managed by this
// registry in its mode).
type Deps struct {
	Registry *engine.Registry
	Jobs     *jobs.Runner
	// Identity is nil unless accounts are mcr's own (auth mode builtin).
	Identity *identity.Service
	Policy   *policy.Engine
	Journal  *audit.Journal
	// Audit receives the changes made through the service (nil: not
	// recorded).
	Audit audit.Recorder
	// Snapshot writes a snapshot into an absolute directory.
	Snapshot func(ctx context.Context, dir string) (*snapshot.Manifest, error)
	// SnapshotDir is where a snapshot named by a relative path goes.
	SnapshotDir string
	// MetadataBytes reports the metadata store's size on disk.
	MetadataBytes func() int64
	// Disk reports the filesystems the registry writes against their
	// floors (nil: not watched).
	Disk func() ([]diskspace.Status, error)
	// Leader reports which replica runs the background jobs (nil: this
	// one, alone on its store).
	Leader  func(ctx context.Context) (apiv1.Leader, error)
	Version string
	Started time.Time
}

// Service implements the admin operations.
type Service struct {
	d Deps
}

// New returns the service over d.
func New(d Deps) *Service {
	if d.Audit == nil {
		d.Audit = audit.Nop{}
	}
	return &Service{d: d}
}

// Page sizes, the same for every listing of both surfaces.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// CheckPage refuses a page size out of range; 0 means DefaultPage.
func CheckPage(n int) (int, error) {
	if n == 0 {
		return DefaultPage, nil
	}
	if n < 1 || n > MaxPage {
		return 0, errcode.New(errcode.PaginationInvalid, "n must be an integer from 1 to %d", MaxPage)
	}
	return n, nil
}

// errNotManaged refuses the operations over a part this registry does not
// manage in its mode (accounts in MCIAS mode, anything with auth off).
func errNotManaged(what string) error {
	return errcode.New(errcode.Conflict, "%s are not managed by this registry in its auth mode", what)
}

// record writes an audit event for a change made through the service, by
// the actor ctx carries.
func (s *Service) record(ctx context.Context, kind audit.Kind, action, repo, dgst, detail string) {
	who := audit.ActorFrom(ctx)
	s.d.Audit.Record(ctx, audit.Event{
		Time: time.Now(), Kind: kind, AccountID: who.ID, AccountName: who.Name, Remote: who.Remote,
		Action: action, Repository: repo, Digest: dgst, Outcome: "success", Detail: detail,
	})
}

// Status is the registry's overview: version, uptime, counts, storage and
// jobs.
func (s *Service) Status(ctx context.Context) (apiv1.Status, error) {
	c, err := s.d.Registry.Counts(ctx)
	if err != nil {
		return apiv1.Status{}, err
	}
	st := apiv1.Status{
		Version: s.d.Version, Started: s.d.Started.UTC(), UptimeSeconds: time.Since(s.d.Started).Seconds(),
		Storage:      apiv1.Storage{BlobBytes: c.BlobBytes},
		Repositories: c.Repositories, Manifests: c.Manifests, Tags: c.Tags, Blobs: c.Blobs, UploadsActive: c.Uploads,
		Jobs: jobList(s.d.Jobs.Statuses()),
	}
	if s.d.MetadataBytes != nil {
		st.Storage.MetadataBytes = s.d.MetadataBytes()
	}
	st.Leader = apiv1.Leader{Self: true}
	if s.d.Leader != nil {
		if st.Leader, err = s.d.Leader(ctx); err != nil {
			return apiv1.Status{}, err
		}
	}
	up, err := s.d.Registry.UploadTotals(ctx)
	if err != nil {
		return apiv1.Status{}, err
	}
	st.Storage.StagingFiles, st.Storage.StagingBytes = up.StagingFiles, up.StagingBytes
	if s.d.Disk != nil {
		fss, err := s.d.Disk()
		if err != nil {
			return apiv1.Status{}, err
		}
		for _, fs := range fss {
			st.Storage.Filesystems = append(st.Storage.Filesystems, apiv1.Filesystem{
				Names: fs.Names, Path: fs.Path,
				SizeBytes: fs.TotalBytes, FreeBytes: fs.FreeBytes, FloorBytes: fs.FloorBytes,
				Inodes: fs.TotalInodes, FreeInodes: fs.FreeInodes, FloorInodes: fs.FloorInodes,
				ReserveBytes: fs.ReserveBytes, ReserveSize: fs.ReserveSize,
				BelowFloor: fs.Below(0), Reason: fs.Reason(),
			})
		}
	}
	return st, nil
}
