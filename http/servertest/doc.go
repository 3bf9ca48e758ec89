// Package servertest serves the real handler stack for tests: the real
// engine over a real Badger store and blob files in a temporary directory
// (engine/enginetest), the real server with its middleware and router,
// and, when asked, built-in authentication, the policy engine, the audit
// journal, the job runner with the GC jobs and the admin API, assembled as
// mcrsrv serve assembles them. Requests go through net/http over an
// in-memory listener (or a loopback socket), so a test sees exactly the
// bytes a client would.
//
// The tests of http/distapi, http/adminapi, http/auth, http/server,
// http/ui and http/grpcapi all stand on it; it imports http/server, so the
// tests of the packages below it are external test packages
// (package distapi_test).
package servertest
