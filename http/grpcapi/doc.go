// Package grpcapi serves the operator's API over gRPC: package mcr.v1
// (proto/mcr/v1, generated Go code in mcrv1), the same operations as the
// REST API under /api/v1 for programs, plus a server stream that follows
// the audit log. docs/grpc.md describes it.
//
// Every RPC calls the same service layer as the REST handlers
// (http/adminsvc), so the surfaces cannot diverge; TestSurfaceParity
// fails when an operation exists on one side only. Each RPC declares the
// one policy action it needs (actions.go); one unary and one stream
// interceptor authenticate the call's authorization metadata (the admin
// API's bearer tokens, or Basic with a password or an access key) and
// authorize that action before the method runs, auditing denials as the
// REST API does. Engine errors become the gRPC status codes their kinds
// are registered with in engine/errcode, the one registry of error kinds
// (errors.go).
//
// The server also answers grpc.health.v1 (SERVING while the registry
// serves, NOT_SERVING once it drains) and server reflection.
package grpcapi
