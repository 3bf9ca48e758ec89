package grpcapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// auditService implements mcr.v1.AuditService.
type auditService struct {
	*Server
}

func (s auditService) QueryAudit(ctx context.Context, req *mcrv1.QueryAuditRequest) (*mcrv1.QueryAuditResponse, error) {
	n, err := pageOf(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	f := filterOf(req.GetFilter())
	var p apiv1.EventPage
	if w := req.GetWait(); w != nil {
		p, err = s.o.Service.FollowAudit(ctx, f, req.GetCursor(), n, w.AsDuration())
	} else {
		p, err = s.o.Service.QueryAudit(ctx, f, req.GetCursor(), n)
	}
	if err != nil {
		return nil, err
	}
	return &mcrv1.QueryAuditResponse{Events: pbEvents(p.Events), NextCursor: p.Next}, nil
}

// FollowAudit sends every matching event after the cursor, then each new
// one as it is committed: a loop of the same long poll the REST API
// offers, each round waiting up to audit.MaxWait. It ends when the client
// cancels (or the server stops).
func (s auditService) FollowAudit(req *mcrv1.FollowAuditRequest, stream grpc.ServerStreamingServer[mcrv1.FollowAuditResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(s.draining, cancel)()
	f, cursor := filterOf(req.GetFilter()), req.GetCursor()
	for ctx.Err() == nil {
		p, err := s.o.Service.FollowAudit(ctx, f, cursor, adminsvc.MaxPage, audit.MaxWait)
		if s.draining.Err() != nil {
			return status.Error(codes.Unavailable, "the server is shutting down")
		}
		if err != nil {
			return err
		}
		for _, e := range p.Events {
			if err := stream.Send(&mcrv1.FollowAuditResponse{Event: pbEvent(e)}); err != nil {
				return err
			}
		}
		if p.Next != "" {
			cursor = p.Next
		}
	}
	if s.draining.Err() != nil {
		return status.Error(codes.Unavailable, "the server is shutting down")
	}
	return ctx.Err()
}

func (s auditService) VerifyAudit(ctx context.Context, _ *mcrv1.VerifyAuditRequest) (*mcrv1.VerifyAuditResponse, error) {
	v, err := s.o.Service.VerifyAudit(ctx)
	if err != nil {
		return nil, err
	}
	out := &mcrv1.VerifyAuditResponse{Ok: v.OK, Events: v.Events, First: v.First, Last: v.Last, Head: v.Head}
	if v.Broken != nil {
		out.BrokenSeq, out.BrokenReason = v.Broken.Seq, v.Broken.Reason
	}
	return out, nil
}
