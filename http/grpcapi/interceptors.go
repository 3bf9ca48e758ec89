package grpcapi

import (
	"context"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/auth"
)

// Authenticator checks a call's credentials and authorizes its action;
// http/auth implements it. Without one (auth mode "none") every call is
// allowed.
type Authenticator interface {
	AuthenticateRPC(ctx context.Context, authorization, remote string) (auth.RPCCaller, error)
	AuthorizeRPC(ctx context.Context, c auth.RPCCaller, act policy.Action, repo string) error
	AllowedRPC(c auth.RPCCaller, act policy.Action, repo string) bool
}

// mcrPrefix starts the full method names of mcr.v1; the others (health,
// reflection) need no credentials: they say nothing about the registry's
// content.
const mcrPrefix = "/mcr.v1."

type callerKey struct{}

// allowFunc answers, for the caller of ctx, whether it may do act on repo:
// the per-entry filter of listings.
func (s *Server) allowFunc(ctx context.Context, act policy.Action) func(repo string) bool {
	c, ok := ctx.Value(callerKey{}).(auth.RPCCaller)
	if s.o.Auth == nil || !ok {
		return func(string) bool { return true }
	}
	return func(repo string) bool { return s.o.Auth.AllowedRPC(c, act, repo) }
}

// admit authenticates and authorizes a call of method with request req
// (nil for a stream, whose methods are all registry-wide) and returns the
// context the method runs with: the caller, and the audit actor.
func (s *Server) admit(ctx context.Context, method string, req any) (context.Context, error) {
	if !strings.HasPrefix(method, mcrPrefix) {
		return ctx, nil
	}
	n, ok := actions[method]
	if !ok {
		return nil, errcode.New(errcode.Internal, "method %s declares no action", method)
	}
	remote := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remote = p.Addr.String()
		if host, _, err := net.SplitHostPort(remote); err == nil {
			remote = host
		}
	}
	if s.o.Auth == nil {
		return audit.WithActor(ctx, audit.Actor{Remote: remote}), nil
	}
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	c, err := s.o.Auth.AuthenticateRPC(ctx, authz, remote)
	if err != nil {
		return nil, err
	}
	repo := ""
	if r, ok := req.(interface{ GetRepository() string }); ok && n.perRepo {
		repo = r.GetRepository()
	}
	if err := s.o.Auth.AuthorizeRPC(ctx, c, n.act, repo); err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, callerKey{}, c)
	return audit.WithActor(ctx, c.Actor()), nil
}

// unary is the interceptor of every unary call: admission, then the
// method, then its error as a status.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.admit(ctx, info.FullMethod, req)
	if err != nil {
		return nil, statusOf(err, s.o.Log, info.FullMethod)
	}
	resp, err := h(ctx, req)
	return resp, statusOf(err, s.o.Log, info.FullMethod)
}

// stream is the interceptor of every streaming call.
func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.admit(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return statusOf(err, s.o.Log, info.FullMethod)
	}
	return statusOf(h(srv, &admitted{ServerStream: ss, ctx: ctx}), s.o.Log, info.FullMethod)
}

// admitted is a stream whose context carries its caller.
type admitted struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *admitted) Context() context.Context { return a.ctx }
