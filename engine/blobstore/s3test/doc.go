// Package s3test starts a real S3 server for tests: versitygw (pinned in
// the Makefile, installed into .tools/bin by `make tools`) serving a
// temporary directory on a free loopback port, with one bucket created.
// The server is stopped, and its directory removed, when the test ends.
package s3test
