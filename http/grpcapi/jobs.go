package grpcapi

import (
	"context"

	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// jobService implements mcr.v1.JobService.
type jobService struct {
	*Server
}

func (s jobService) ListJobs(context.Context, *mcrv1.ListJobsRequest) (*mcrv1.ListJobsResponse, error) {
	return &mcrv1.ListJobsResponse{Jobs: pbJobs(s.o.Service.Jobs().Jobs)}, nil
}

func (s jobService) GetJob(_ context.Context, req *mcrv1.GetJobRequest) (*mcrv1.GetJobResponse, error) {
	j, err := s.o.Service.Job(req.GetKind())
	if err != nil {
		return nil, err
	}
	return &mcrv1.GetJobResponse{Job: pbJob(j)}, nil
}

func (s jobService) GetGCStatus(context.Context, *mcrv1.GetGCStatusRequest) (*mcrv1.GetGCStatusResponse, error) {
	st := s.o.Service.GCStatus()
	return &mcrv1.GetGCStatusResponse{Gc: pbJob(st.GC), DryRun: pbJob(st.DryRun), Uploads: pbJob(st.Uploads)}, nil
}

func (s jobService) RunGC(_ context.Context, req *mcrv1.RunGCRequest) (*mcrv1.RunGCResponse, error) {
	j, err := s.o.Service.RunGC(req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &mcrv1.RunGCResponse{Job: pbJob(j)}, nil
}

func (s jobService) ListGCHistory(ctx context.Context, req *mcrv1.ListGCHistoryRequest) (*mcrv1.ListGCHistoryResponse, error) {
	n, err := pageOf(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	p, err := s.o.Service.GCHistory(ctx, req.GetCursor(), n)
	if err != nil {
		return nil, err
	}
	return &mcrv1.ListGCHistoryResponse{Events: pbEvents(p.Events), NextCursor: p.Next}, nil
}
