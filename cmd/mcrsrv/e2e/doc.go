// Package e2e drives a real mcrsrv process from the outside, the way the
// registry's users do: the pinned OCI distribution-spec conformance suite
// (TestConformance) and the real client binaries crane, oras, regctl and
// skopeo (TestClients); the container image pushed and inspected
// (TestImage); nginx in front of mcr (TestNginx). Every check is also confirmed with plain net/http
// probes, so a client that silently tolerates a registry bug does not hide it.
//
// The tests need the tools that `make tools` installs, so they only run when
// MCR_E2E=1; `make test` sets it. A plain `go test ./...` skips them. With
// MCR_E2E=1 a missing tool is a failure, never a skip.
//
// Environment:
//
//	MCR_E2E=1              run the tests (set by `make test`)
//	MCR_TOOLS_BIN=DIR      where crane, oras, regctl and conformance live
//	                       (default: PATH); skopeo may also come from PATH
//	MCR_BIN=PATH           the mcrsrv binary to start; unset: go build it
//	MCR_IMAGE=DIR          the OCI layout `make image` wrote (TestImage)
//	MCR_E2E_REGISTRY=H:P   test an already running registry instead of
//	                       starting mcrsrv (anonymous, plain HTTP)
//	MCR_E2E_KEEP=DIR       keep server logs, data, conformance reports and
//	                       client logs under DIR instead of deleting them
//	MCR_UI_SCREENSHOTS=DIR where TestUIInBrowser saves a PNG of each page
//	                       (default: ui-screenshots/ at the repository top)
//
// Each test starts its own server (`mcrsrv serve --data DIR --addr
// 127.0.0.1:PORT`, with MCR_AUTH_MODE=none unless the test turns builtin
// auth on) on a fresh data directory and a free port, waits for GET /v2/ to
// answer 200 (401 with auth on), and stops it with SIGTERM at the end; the
// auth tests log in as the first admin, whose password the server wrote to
// DIR/initial-admin-password; a server that
// does not exit cleanly fails the test, and its log is printed on failure.
// The TLS tests (tls_test.go) generate a CA and a certificate for
// 127.0.0.1 and localhost, start the server with MCR_TLS_*, and run the
// same client sessions and the conformance suite over HTTPS, the clients
// trusting the CA through SSL_CERT_FILE with every flag that allows plain
// HTTP or skips verification removed; they need a server of their own
// and skip under MCR_E2E_REGISTRY.
// The web UI test (ui_test.go) pushes content with crane and oras, then
// walks the UI in headless Chromium (Debian's package, driven with
// chromedp): it fails on any console error, failed sub-resource or dialog
// (a hostile label that ran).
// The replicas tests (cluster_test.go, replicas_test.go,
// replicas_auth_test.go) start PostgreSQL (kv/pgtest), an S3 server
// (versitygw, s3test), three replicas sharing them and HAProxy (Debian's
// package) running deploy/haproxy/haproxy.cfg with the test's ports, and
// drive everything through HAProxy, each test on one cluster shared by its
// subtests (docs/scale-out.md).
// Repository names carry a per-run id, so runs against a shared registry
// (MCR_E2E_REGISTRY) do not collide.
//
// The parsers of tool output (mount detection in client logs, the suite's
// junit.xml) and the layout verification have unit tests on real log
// excerpts, which run in every `go test`. The package has no non-test code.
package e2e
