package main

import (
	"strings"
	"testing"
)

// grpc.addr is off by default, read from MCR_GRPC_ADDR, and must be
// host:port when set.
func TestConfigGRPC(t *testing.T) {
	if c := Defaults(); c.GRPC.Addr != "" {
		t.Errorf("gRPC on by default: %q", c.GRPC.Addr)
	}
	c, err := Load("", []string{"MCR_GRPC_ADDR=127.0.0.1:5001"})
	if err != nil || c.GRPC.Addr != "127.0.0.1:5001" || c.Validate() != nil {
		t.Fatalf("MCR_GRPC_ADDR: %+v %v", c.GRPC, err)
	}
	c.GRPC.Addr = "5001"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "grpc.addr") {
		t.Errorf("Validate() = %v, want a complaint about grpc.addr", err)
	}
}
