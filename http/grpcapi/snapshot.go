package grpcapi

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// snapshotService implements mcr.v1.SnapshotService.
type snapshotService struct {
	*Server
}

func (s snapshotService) CreateSnapshot(ctx context.Context, req *mcrv1.CreateSnapshotRequest) (*mcrv1.CreateSnapshotResponse, error) {
	sn, err := s.o.Service.CreateSnapshot(ctx, req.GetDir())
	if err != nil {
		return nil, err
	}
	return &mcrv1.CreateSnapshotResponse{
		Dir: sn.Dir, Created: ts(sn.Created), Blobs: int64(sn.Blobs), BlobBytes: sn.BlobBytes,
		Linked: int64(sn.Linked), Copied: int64(sn.Copied), MetadataBytes: sn.MetadataBytes,
	}, nil
}
