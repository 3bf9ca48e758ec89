// Package haproxy holds the HAProxy example (haproxy.cfg, documented in
// docs/scale-out.md) and runs it: Render puts one deployment's addresses
// into the committed file, Start runs HAProxy on the result, and
// Proxy.Servers reads its view of the replicas from its statistics page.
// The e2e cluster (cmd/mcrsrv/e2e) and bench's replicas dimension both
// run the example through it, so neither can drift from what operators
// are told to deploy.
//
// It is a service starter in the sense of cmd/mcrsrv/layering_test.go:
// standard library only, no registry code, so bench may import it and
// still measure from outside.
package haproxy
