// Package s3server runs an S3-compatible server as a child process on
// free loopback ports, serving a directory its caller owns: versitygw (the
// server `make test` installs) or SeaweedFS (`make test-seaweedfs`),
// chosen by name, by default from MCR_S3_SERVER. It knows how to start,
// restart and stop each server, waits until the server answers a real S3
// request, and creates buckets with one root account (AccessKey,
// SecretKey).
//
// It imports no mcr package and needs no testing.T, so both the tests'
// helper (engine/blobstore/s3test) and the benchmark harness (bench/, which
// measures from outside and links no registry code) start servers with it.
package s3server
