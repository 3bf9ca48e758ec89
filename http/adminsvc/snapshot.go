package adminsvc

import (
	"context"
	"path/filepath"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// CreateSnapshot writes a snapshot into a directory on the server: a
// relative one under SnapshotDir (it may not climb out of it), an absolute
// one as given.
func (s *Service) CreateSnapshot(ctx context.Context, dir string) (apiv1.Snapshot, error) {
	if s.d.Snapshot == nil {
		return apiv1.Snapshot{}, errNotManaged("snapshots")
	}
	switch {
	case dir == "":
		return apiv1.Snapshot{}, errcode.New(errcode.Invalid, "dir is required")
	case !filepath.IsAbs(dir) && !filepath.IsLocal(dir):
		return apiv1.Snapshot{}, errcode.New(errcode.Invalid, "dir %q: a relative dir must stay under the snapshot directory", dir)
	case !filepath.IsAbs(dir):
		dir = filepath.Join(s.d.SnapshotDir, dir)
	}
	m, err := s.d.Snapshot(ctx, filepath.Clean(dir))
	if err != nil {
		return apiv1.Snapshot{}, err
	}
	s.record(ctx, audit.Snapshot, "snapshot", "", "", "snapshot to "+dir)
	return apiv1.Snapshot{
		Dir: dir, Created: m.Created.UTC(), Blobs: len(m.Blobs), BlobBytes: m.Bytes(),
		Linked: m.Linked, Copied: m.Copied, MetadataBytes: m.BackupSize,
	}, nil
}
