package s3test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
)

// Credentials of the test server's root account.
const (
	AccessKey = "mcrtest"
	SecretKey = "mcrtest-secret"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string
	bin      string
	addr     string
	dir      string
	cmd      *exec.Cmd
	exited   chan error
}

// Binary finds versitygw: $MCR_TOOLS_BIN, else .tools/bin of the module
// root above the working directory.
func Binary(t testing.TB) string {
	if dir := os.Getenv("MCR_TOOLS_BIN"); dir != "" {
		return filepath.Join(dir, "versitygw")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools", "bin", "versitygw")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("s3test: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start runs versitygw until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("s3test: %v (run `make tools`)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s := &Server{Endpoint: "http://" + addr, bin: bin, addr: addr, dir: filepath.Join(t.TempDir(), "data")}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(s.dir, "..", "versitygw.log"))
			t.Logf("versitygw log:\n%s", b[max(0, len(b)-8192):])
		}
	})
	return s
}

// Restart starts a stopped server again, on the same address and
// directory: what it held before it stopped is there again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.start(t)
}

// start runs versitygw and waits until it accepts connections.
func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(s.bin, "--access", AccessKey, "--secret", SecretKey, "--port", s.addr, "posix", s.dir)
	// Its request log goes to a file, shown only when the test fails.
	log, err := os.OpenFile(filepath.Join(s.dir, "..", "versitygw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd, s.exited = cmd, make(chan error, 1)
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("s3test: versitygw exited at start: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3test: versitygw not listening on %s after 30s", s.addr)
		}
	}
}

// Stop ends the server (idempotent).
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill() // an error: it has exited already
	err := <-s.exited
	s.exited <- err
}

// Bucket creates a new bucket and returns a store configuration for it.
func (s *Server) Bucket(t testing.TB, name string) s3store.Config {
	t.Helper()
	cfg := s3store.Config{Endpoint: s.Endpoint, Bucket: name, Region: "us-east-1", AccessKeyID: AccessKey,
		SecretAccessKey: SecretKey, PartSize: s3store.MinPartSize}
	c := Client(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	return cfg
}

// Client is a plain S3 client for cfg, for tests that look at the bucket
// behind the store's back.
func Client(cfg s3store.Config) *s3.Client {
	return s3.New(s3.Options{Region: cfg.Region, UsePathStyle: true, BaseEndpoint: aws.String(cfg.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}, nil
		})})
}
