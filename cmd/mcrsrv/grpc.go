package main

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi"
)

// GRPCConfig is the gRPC admin API (docs/grpc.md).
type GRPCConfig struct {
	// Addr is the host:port of the gRPC admin API (package mcr.v1), served
	// with the HTTP listener's TLS settings (tls.*: the same certificate,
	// reloaded alike, and client CA). Empty, the default, turns it off.
	Addr string `toml:"addr"`
}

func (g GRPCConfig) validate() []error {
	if g.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(g.Addr); err != nil {
		return []error{fmt.Errorf("grpc.addr %q: want host:port", g.Addr)}
	}
	return nil
}

// grpcAPI binds grpc.addr and builds the gRPC API over svc, the service
// layer the REST API calls too; nil, nil when it is off.
func grpcAPI(c Config, cfg *tls.Config, svc *adminsvc.Service, authn *auth.Auth, log zerolog.Logger) (*grpcapi.Server, net.Listener, error) {
	if c.GRPC.Addr == "" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", c.GRPC.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("grpc.addr: %w", err)
	}
	o := grpcapi.Options{Service: svc, TLS: cfg, Log: log.With().Str("component", "grpcapi").Logger()}
	if authn != nil {
		o.Auth = authn
	}
	return grpcapi.New(o), ln, nil
}
