// Package s3test starts a real S3 server for tests and stops it, and
// removes its directory, when the test ends: versitygw (pinned in the
// Makefile, installed into .tools/bin by `make tools`) or, with
// MCR_S3_SERVER=seaweedfs, SeaweedFS (`make test-seaweedfs`), serving a
// temporary directory on free loopback ports. The process handling is
// package s3server's; this package adds the testing.T wrapper and the
// blob store's configuration for a fresh bucket.
package s3test
