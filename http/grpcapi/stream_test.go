package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// The follow stream sends the events already there, then each push as it
// is audited, and ends when the client cancels.
func TestFollowAudit(t *testing.T) {
	e := newEnv(t)
	root := e.token(e.Account("root", identity.Human, identity.RoleAdmin))
	ctx, cancel := context.WithTimeout(as(root), time.Minute)
	defer cancel()
	stream, err := e.audit.FollowAudit(ctx, &mcrv1.FollowAuditRequest{Filter: &mcrv1.AuditFilter{Types: []string{"delete"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *mcrv1.Event)
	ended := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				ended <- err
				return
			}
			got <- r.Event
		}
	}()
	for _, tag := range []string{"v1", "v2", "v3"} {
		e.push("team/app", tag)
		if _, err := e.registry.DeleteTag(as(root), &mcrv1.DeleteTagRequest{Repository: "team/app", Tag: tag}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-got:
			if ev.Type != "delete" || ev.Repository != "team/app" || ev.AccountName != "root" {
				t.Errorf("event %v", ev)
			}
		case err := <-ended:
			t.Fatalf("stream ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("no event for the deletion of %s", tag)
		}
	}
	cancel()
	select {
	case err := <-ended:
		wantCode(t, "cancelled stream", err, codes.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end when the client cancelled")
	}
}

// Health is SERVING while the server serves, and the follow streams end
// with Unavailable when it drains.
func TestHealthAndDrain(t *testing.T) {
	e := newEnv(t)
	h := healthpb.NewHealthClient(e.conn)
	ctx := context.Background()
	for _, svc := range []string{"", "mcr.v1.RegistryService", "mcr.v1.AuditService"} {
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v %v", svc, r, err)
		}
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := h.Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch %v %v", r, err)
	}
	root := e.token(e.Account("root", identity.Human, identity.RoleAdmin))
	stream, err := e.audit.FollowAudit(as(root), &mcrv1.FollowAuditRequest{Filter: &mcrv1.AuditFilter{Types: []string{"none"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The stream is admitted once a first call on the connection came
	// back; a unary call after it proves the server took it.
	if _, err := e.registry.GetStatus(as(root), &mcrv1.GetStatusRequest{}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		e.srv.Drain(dctx)
		close(drained)
	}()
	if r, err := watch.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("watch while draining %v %v", r, err)
	}
	stopWatch() // a watcher, like any running call, holds the drain until it goes
	_, err = stream.Recv()
	wantCode(t, "follow while draining", err, codes.Unavailable)
	select {
	case <-drained:
	case <-dctx.Done():
		t.Fatal("drain did not finish")
	}
	if dctx.Err() != nil {
		t.Error("drain waited for its deadline")
	}
}
