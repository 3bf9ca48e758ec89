// Command bench is mcr's whole-system benchmark: a load generator that
// speaks the OCI Distribution API over HTTP to any registry, and a
// comparison driver that runs mcr and the reference registry (CNCF
// distribution) side by side on loopback.
//
//	go run ./bench -registry 127.0.0.1:5000 -scenario push-image -c 16
//	go run ./bench -mcr bin/mcrsrv -scenario all -quick
//	go run ./bench compare -mcr bin/mcrsrv -reference .tools/bin/registry
//
// It measures from outside: it imports no mcr package (a test in
// cmd/mcrsrv enforces that), only starts binaries and sends requests. See
// docs/benchmarks.md for the scenarios, the knobs and the latest results.
//
// Sub-packages: oci (the verifying client), payload (PRNG data), scenario
// (the workloads and the closed-loop runner), server (starting registries,
// peak RSS), machine (machine limits), plot (SVG charts).
package main
