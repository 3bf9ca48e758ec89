package s3test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test/s3server"
)

// Credentials of the test server's root account.
const (
	AccessKey = s3server.AccessKey
	SecretKey = s3server.SecretKey
)

// Server is a running S3 server.
type Server struct {
	*s3server.Server
}

// Binary finds the server chosen by MCR_S3_SERVER (versitygw, or weed
// for seaweedfs): in $MCR_TOOLS_BIN, else .tools/bin of the module root
// above the working directory.
func Binary(t testing.TB) string {
	k, err := s3server.KindFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("MCR_TOOLS_BIN"); dir != "" {
		return filepath.Join(dir, k.Binary())
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools", "bin", k.Binary())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("s3test: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start runs the S3 server chosen by MCR_S3_SERVER (versitygw by default)
// until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	k, err := s3server.KindFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := s3server.Start(context.Background(), k, Binary(t), dir, s3server.Options{})
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", k, srv.LogTail(8192))
		}
	})
	return &Server{srv}
}

// Restart starts a stopped server again, on the same address and
// directory: what it held before it stopped is there again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.Server.Restart(context.Background()); err != nil {
		t.Fatalf("s3test: %v", err)
	}
}

// Bucket creates a new bucket and returns a store configuration for it.
func (s *Server) Bucket(t testing.TB, name string) s3store.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.CreateBucket(ctx, name); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return s3store.Config{Endpoint: s.Endpoint, Bucket: name, Region: s3server.Region, AccessKeyID: AccessKey,
		SecretAccessKey: SecretKey, PartSize: s3store.MinPartSize}
}

// Client is a plain S3 client for cfg, for tests that look at the bucket
// behind the store's back.
func Client(cfg s3store.Config) *s3.Client {
	return s3server.Client(cfg.Endpoint, cfg.Region, cfg.AccessKeyID, cfg.SecretAccessKey)
}
