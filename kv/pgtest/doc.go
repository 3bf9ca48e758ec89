// Package pgtest runs throwaway PostgreSQL servers for tests: initdb into a
// temporary directory, postgres as a child process listening only on a
// unix socket inside it (killed by the kernel if the test binary dies), a
// fresh database per test, and the server stopped and its directory
// removed at the end of the test binary.
//
// One server is shared by a test binary (started by the first test that
// asks, stopped by Main from TestMain); each test gets its own database,
// dropped when the test ends, so tests stay independent and may run in
// parallel. A test that takes PostgreSQL away under a running registry
// starts a Private server instead, and Halts and Resumes it (same socket,
// same data directory). As root, where initdb refuses to run, the server runs as the
// postgres user. Where PostgreSQL is not installed a test is skipped with
// the reason, unless MCR_PG_REQUIRED=1 (make test) makes it a failure.
//
// For failover tests a primary (StartPrimary) gets a streaming standby
// (StartStandby: pg_basebackup, synchronous commit), which Promote turns
// into the primary after Kill ends the old one; FailoverDSN names both,
// so that a client finds whichever accepts writes.
package pgtest
