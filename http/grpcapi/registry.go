package grpcapi

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// registryService implements mcr.v1.RegistryService over the service
// layer; the interceptors authorized each call already.
type registryService struct {
	*Server
}

func (s registryService) GetStatus(ctx context.Context, _ *mcrv1.GetStatusRequest) (*mcrv1.GetStatusResponse, error) {
	st, err := s.o.Service.Status(ctx)
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetStatusResponse{
		Version: st.Version, Started: ts(st.Started), UptimeSeconds: st.UptimeSeconds,
		Storage: &mcrv1.Storage{
			BlobBytes: st.Storage.BlobBytes, MetadataBytes: st.Storage.MetadataBytes,
			StagingFiles: st.Storage.StagingFiles, StagingBytes: st.Storage.StagingBytes,
			Filesystems: each(st.Storage.Filesystems, pbFilesystem),
		},
		Repositories: st.Repositories, Manifests: st.Manifests, Tags: st.Tags, Blobs: st.Blobs, UploadsActive: st.UploadsActive,
		Jobs:   pbJobs(st.Jobs),
		Leader: &mcrv1.Leader{Replica: st.Leader.Replica, Term: st.Leader.Term, Expires: tsp(st.Leader.Expires), Self: st.Leader.Self},
	}, nil
}

func (s registryService) ListRepositories(ctx context.Context, req *mcrv1.ListRepositoriesRequest) (*mcrv1.ListRepositoriesResponse, error) {
	n, err := pageOf(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	p, err := s.o.Service.Repositories(ctx, req.GetCursor(), n, s.allowFunc(ctx, policy.Pull))
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListRepositoriesResponse{Repositories: each(p.Repositories, pbRepository), NextCursor: p.Next}, nil
}

func (s registryService) GetRepository(ctx context.Context, req *mcrv1.GetRepositoryRequest) (*mcrv1.GetRepositoryResponse, error) {
	r, err := s.o.Service.Repository(ctx, req.GetRepository())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetRepositoryResponse{Repository: pbRepository(r)}, nil
}

func (s registryService) DeleteRepository(ctx context.Context, req *mcrv1.DeleteRepositoryRequest) (*mcrv1.DeleteRepositoryResponse, error) {
	j, err := s.o.Service.DeleteRepository(ctx, req.GetRepository())
	if err != nil {
		return nil, err
	}
	return &mcrv1.DeleteRepositoryResponse{Job: pbJob(j)}, nil
}

func (s registryService) ListTags(ctx context.Context, req *mcrv1.ListTagsRequest) (*mcrv1.ListTagsResponse, error) {
	p, err := pageIn(ctx, req, s.o.Service.Tags)
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListTagsResponse{Tags: each(p.Tags, pbTag), NextCursor: p.Next}, nil
}

func (s registryService) GetTag(ctx context.Context, req *mcrv1.GetTagRequest) (*mcrv1.GetTagResponse, error) {
	t, err := s.o.Service.Tag(ctx, req.GetRepository(), req.GetTag())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetTagResponse{Tag: pbTag(t), Manifest: pbManifest(*t.Manifest)}, nil
}

func (s registryService) DeleteTag(ctx context.Context, req *mcrv1.DeleteTagRequest) (*mcrv1.DeleteTagResponse, error) {
	return empty[mcrv1.DeleteTagResponse](s.o.Service.DeleteReference(ctx, req.GetRepository(), req.GetTag(), false))
}

func (s registryService) ListManifests(ctx context.Context, req *mcrv1.ListManifestsRequest) (*mcrv1.ListManifestsResponse, error) {
	p, err := pageIn(ctx, req, s.o.Service.Manifests)
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListManifestsResponse{Manifests: each(p.Manifests, pbManifest), NextCursor: p.Next}, nil
}

func (s registryService) GetManifest(ctx context.Context, req *mcrv1.GetManifestRequest) (*mcrv1.GetManifestResponse, error) {
	m, err := s.o.Service.Manifest(ctx, req.GetRepository(), req.GetReference())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetManifestResponse{Manifest: pbManifest(*m)}, nil
}

func (s registryService) DeleteManifest(ctx context.Context, req *mcrv1.DeleteManifestRequest) (*mcrv1.DeleteManifestResponse, error) {
	return empty[mcrv1.DeleteManifestResponse](s.o.Service.DeleteReference(ctx, req.GetRepository(), req.GetDigest(), true))
}

func (s registryService) ListUploads(ctx context.Context, req *mcrv1.ListUploadsRequest) (*mcrv1.ListUploadsResponse, error) {
	p, err := pageIn(ctx, req, s.o.Service.Uploads)
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListUploadsResponse{Uploads: each(p.Uploads, pbUpload), NextCursor: p.Next}, nil
}

func (s registryService) DeleteUpload(ctx context.Context, req *mcrv1.DeleteUploadRequest) (*mcrv1.DeleteUploadResponse, error) {
	return empty[mcrv1.DeleteUploadResponse](s.o.Service.DeleteUpload(ctx, req.GetId()))
}
