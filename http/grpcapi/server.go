package grpcapi

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
)

// Options configure the server.
type Options struct {
	// Service is the service layer, the same one the REST API calls.
	Service *adminsvc.Service
	// Auth checks credentials and actions; nil allows every call (auth
	// mode none).
	Auth Authenticator
	// TLS is the listener's TLS configuration (http/tlsconf: the
	// reloading certificate and client CA); nil serves plaintext h2c.
	TLS *tls.Config
	Log zerolog.Logger
}

// Server is the gRPC API.
type Server struct {
	o      Options
	srv    *grpc.Server
	health *health.Server
	// draining ends the audit follows when the server drains: they would
	// otherwise hold a graceful stop until their clients leave.
	draining context.Context
	drain    context.CancelFunc
}

// New builds the server and registers every service of mcr.v1, health
// checking (NOT_SERVING until SetServing) and reflection.
func New(o Options) *Server {
	s := &Server{o: o, health: health.NewServer()}
	s.draining, s.drain = context.WithCancel(context.Background())
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(s.unary), grpc.StreamInterceptor(s.stream)}
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s.srv = grpc.NewServer(opts...)
	mcrv1.RegisterRegistryServiceServer(s.srv, registryService{s})
	mcrv1.RegisterJobServiceServer(s.srv, jobService{s})
	mcrv1.RegisterPolicyServiceServer(s.srv, policyService{s})
	mcrv1.RegisterAccountServiceServer(s.srv, accountService{s})
	mcrv1.RegisterAuditServiceServer(s.srv, auditService{s})
	mcrv1.RegisterSnapshotServiceServer(s.srv, snapshotService{s})
	healthpb.RegisterHealthServer(s.srv, s.health)
	reflection.Register(s.srv)
	s.setAll(healthpb.HealthCheckResponse_NOT_SERVING)
	return s
}

// setAll sets the health of the server ("") and of every mcr.v1 service.
func (s *Server) setAll(st healthpb.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus("", st)
	for name := range s.srv.GetServiceInfo() {
		s.health.SetServingStatus(name, st)
	}
}

// SetServing reports SERVING (the registry is ready) or NOT_SERVING (it
// drains) to health checks.
func (s *Server) SetServing(on bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if on {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.setAll(st)
}

// Serve answers calls on ln until Stop or GracefulStop.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Drain reports NOT_SERVING, ends the audit follows (Unavailable), stops
// accepting calls and waits for the running ones until ctx ends, then
// ends them too. Serve returns once it is done.
func (s *Server) Drain(ctx context.Context) {
	s.health.Shutdown()
	s.drain()
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.srv.Stop()
		<-done
	}
}

// Stop ends every call at once.
func (s *Server) Stop() {
	s.drain()
	s.srv.Stop()
}
