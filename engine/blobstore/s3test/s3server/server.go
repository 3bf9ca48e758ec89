package s3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest/spawn"
)

// Credentials of the servers' root account, and the region they sign for.
const (
	AccessKey = "mcrtest"
	SecretKey = "mcrtest-secret"
	Region    = "us-east-1"
)

// KindEnv selects the server kind for tests (see KindFromEnv).
const KindEnv = "MCR_S3_SERVER"

// Kind names an S3 server implementation.
type Kind string

// The servers this package can run.
const (
	Versitygw Kind = "versitygw"
	SeaweedFS Kind = "seaweedfs"
)

// KindFromEnv is the kind named by MCR_S3_SERVER, versitygw when unset.
func KindFromEnv() (Kind, error) {
	switch k := Kind(os.Getenv(KindEnv)); k {
	case "":
		return Versitygw, nil
	case Versitygw, SeaweedFS:
		return k, nil
	default:
		return "", fmt.Errorf("%s=%q: want %s or %s", KindEnv, k, Versitygw, SeaweedFS)
	}
}

// Binary is the executable's file name for the kind (in .tools/bin).
func (k Kind) Binary() string {
	if k == SeaweedFS {
		return "weed"
	}
	return string(k)
}

// Options tune a server.
type Options struct {
	// KeepAlive keeps client connections open between requests, as S3
	// services do. versitygw closes them after each request unless told
	// otherwise (SeaweedFS always keeps them); the tests run it as it
	// comes, a benchmark should not pay a TCP handshake per request.
	KeepAlive bool
	// AccessLog writes a line per request to AccessLogPath (versitygw
	// only), in the S3 server access log format: the second field is the
	// bucket.
	AccessLog bool
}

// Server is a running (or stopped, restartable) S3 server.
type Server struct {
	Kind     Kind
	Endpoint string // http://127.0.0.1:port
	opts     Options
	bin      string
	dir      string   // the caller's directory: data/ and server.log inside
	ports    []string // the loopback ports the server listens on, S3 first
	exited   chan error
	cmd      *exec.Cmd
}

// Start runs the server of kind k from binary bin with its data under
// dir (an existing directory the caller owns and removes), and waits
// until it answers S3 requests.
func Start(ctx context.Context, k Kind, bin, dir string, o Options) (*Server, error) {
	if o.AccessLog && k != Versitygw {
		return nil, fmt.Errorf("%s: no access log option here", k)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run `make tools`)", k, err)
	}
	// The server runs in dir: a relative path would be resolved there.
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	n := 1
	if k == SeaweedFS {
		n = len(seaweedPorts)
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: k, Endpoint: "http://127.0.0.1:" + ports[0], opts: o, bin: bin, dir: dir, ports: ports}
	if err := os.MkdirAll(s.dataDir(), 0o700); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

// AccessLogPath is the file of Options.AccessLog.
func (s *Server) AccessLogPath() string { return filepath.Join(s.dir, "access.log") }

// Restart starts a stopped server again on the same ports and directory:
// what it held before it stopped is there again.
func (s *Server) Restart(ctx context.Context) error { return s.start(ctx) }

// startLimit bounds a start: SeaweedFS elects a master and joins a volume
// server before its S3 gateway answers.
const startLimit = 60 * time.Second

// start runs the server and waits until it lists buckets.
func (s *Server) start(ctx context.Context) error {
	args, err := s.args()
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	log, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = log, log
	// The kernel ends the server if this process dies first.
	if err := spawn.Start(cmd); err != nil {
		return fmt.Errorf("%s: %w", s.Kind, err)
	}
	s.cmd, s.exited = cmd, make(chan error, 1)
	go func() { s.exited <- cmd.Wait() }()
	c := s.Client()
	deadline := time.Now().Add(startLimit)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.ListBuckets(rctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.exited:
			s.exited <- werr
			return fmt.Errorf("%s exited at start: %v\n%s", s.Kind, werr, s.LogTail(4096))
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s not answering on %s after %s: %v\n%s", s.Kind, s.Endpoint, startLimit, err, s.LogTail(4096))
		}
	}
}

// Stop kills the server and waits for it (idempotent). A kill, not a
// polite stop: the tests that stop a server mean an outage.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // an error: it has exited already
	err := <-s.exited
	s.exited <- err
}

// LogTail is the last n bytes of the server's log.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.logPath())
	return string(b[max(0, len(b)-n):])
}

// CreateBucket creates bucket name.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("%s: create bucket %s: %w", s.Kind, name, err)
	}
	return nil
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Client is a plain S3 client of the root account.
func (s *Server) Client() *s3.Client { return Client(s.Endpoint, Region, AccessKey, SecretKey) }

// Client is a path-style S3 client for an endpoint and static credentials.
func Client(endpoint, region, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{Region: region, UsePathStyle: true, BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil
		})})
}

// freePorts reserves n distinct free loopback ports by listening on them
// all at once, then releases them for the server.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		_, p, _ := net.SplitHostPort(l.Addr().String())
		ports = append(ports, p)
	}
	return ports, nil
}

// args is the command line of the server.
func (s *Server) args() ([]string, error) {
	switch s.Kind {
	case Versitygw:
		args := []string{"--access", AccessKey, "--secret", SecretKey, "--port", "127.0.0.1:" + s.ports[0]}
		if s.opts.KeepAlive {
			args = append(args, "--keep-alive")
		}
		if s.opts.AccessLog {
			// -q: the access log replaces the request lines on stdout.
			args = append(args, "--access-log", s.AccessLogPath(), "-q")
		}
		return append(args, "posix", s.dataDir()), nil
	case SeaweedFS:
		return s.seaweedArgs()
	}
	return nil, errors.New("unknown S3 server kind " + strings.TrimSpace(string(s.Kind)))
}
