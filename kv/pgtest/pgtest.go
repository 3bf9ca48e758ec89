package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest/spawn"
)

// RequiredEnv, when set to 1, turns a missing PostgreSQL into a failure
// instead of a skip: make test sets it, because it installs PostgreSQL.
const RequiredEnv = "MCR_PG_REQUIRED"

// Server is a throwaway PostgreSQL server in a temporary directory,
// reachable only on a unix socket in that directory.
type Server struct {
	// extra are settings beyond the defaults (-c name=value), for a
	// primary that streams to a standby.
	extra []string
	dir   string // temporary root: data/, the socket, the log
	bin   string // directory of initdb and postgres
	cred  *syscall.Credential
	port  int
	cmd   *exec.Cmd
	done  chan struct{} // closed when the server process has exited
	dbs   atomic.Int64
	mu    sync.Mutex
}

// binDir finds initdb and postgres: on PATH, else Debian's versioned
// directory (/usr/lib/postgresql/<major>/bin, the newest).
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		// A symlink on PATH: the other tools (pg_basebackup) are beside
		// its target, not necessarily beside the link.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL's initdb and postgres not found on PATH or in /usr/lib/postgresql/*/bin (make tools installs them)")
}

// Start initializes and starts a server. As root (initdb and postgres
// refuse to run as root) both run as the postgres user, in a directory it
// owns. The server is a child process that the kernel kills if this
// process dies first, so a crashed test binary leaves no server behind.
func Start() (*Server, error) { return startServer(nil, nil) }

// newServer prepares a server in a new temporary directory (owned by the
// postgres user when running as root).
func newServer(extra []string) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcr-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, port: 5432, extra: extra}
	if os.Geteuid() == 0 {
		if err := s.dropRoot(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	return s, nil
}

// startServer creates a server's data directory with initdb (or with
// create, for a standby) and starts it.
func startServer(extra []string, create func(s *Server, data string) error) (*Server, error) {
	s, err := newServer(extra)
	if err != nil {
		return nil, err
	}
	if create == nil {
		create = initdb
	}
	if err := create(s, filepath.Join(s.dir, "data")); err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, err
	}
	return s, nil
}

func initdb(s *Server, data string) error {
	if out, err := s.command("initdb", "-D", data, "-U", "mcr", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// start starts postgres on the initialized directory and waits until it
// accepts connections; again after Halt, on the same directory.
func (s *Server) start() error {
	data := filepath.Join(s.dir, "data")
	s.done = make(chan struct{})
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// fsync off: this server's data dies with the test, and mcr's
	// durability contract is PostgreSQL's acknowledged commit, which
	// synchronous_commit (left on) still waits for. The socket lives in
	// the private directory, so the usual port cannot clash.
	args := []string{"-D", data, "-k", s.dir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB"}
	for _, e := range s.extra {
		args = append(args, "-c", e)
	}
	s.cmd = s.command("postgres", args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// A group of its own, so that Kill takes the backends with the
	// postmaster, as losing the machine would. spawn.Start kills it if
	// the test binary dies first.
	s.cmd.SysProcAttr.Setpgid = true
	if err := spawn.Start(s.cmd); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	cmd, done := s.cmd, s.done
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.admin(ctx, `SELECT 1`)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(s.LogPath())
			return fmt.Errorf("postgres exited at start: %s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			<-s.done
			return fmt.Errorf("postgres not accepting connections after 60s: %w", err)
		}
	}
}

// dropRoot hands the directory to the postgres user and runs the server
// commands as that user.
func (s *Server) dropRoot() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user for initdb: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return err
	}
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

func (s *Server) command(tool string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, tool), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd
}

// DSN is the connection string of database db on this server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=mcr dbname=%s sslmode=disable", s.dir, s.port, db)
}

// CreateDatabase creates a fresh, empty database and returns its name.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	return name, s.admin(ctx, `CREATE DATABASE `+name)
}

// DropDatabase drops db, closing any connection still open to it.
func (s *Server) DropDatabase(ctx context.Context, db string) error {
	return s.admin(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
}

// LogStatements makes the server log every statement run in database db
// to LogPath, from the next session on: to count a client's round trips.
func (s *Server) LogStatements(ctx context.Context, db string) error {
	return s.admin(ctx, `ALTER DATABASE `+db+` SET log_statement = 'all'`)
}

// Pid is the postmaster's process id; each connection is served by a
// child of it.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// LogPath is the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "log") }

func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop stops the server (fast shutdown: sessions are ended) and removes
// its directory.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		return nil
	}
	err := errors.Join(s.halt(), os.RemoveAll(s.dir))
	s.dir = ""
	return err
}

// Halt stops the server process and keeps its directory: the database is
// unreachable (connections refused, open sessions ended) until Resume.
// Only a Private server may be halted: the shared one serves other tests.
func (s *Server) Halt() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.halt()
}

// Resume starts a halted server again, on the same socket and data
// directory: everything committed before Halt is there.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
	default:
		return errors.New("pgtest: Resume of a server that is running")
	}
	return s.start()
}

func (s *Server) halt() error {
	_ = s.cmd.Process.Signal(syscall.SIGINT) // a no-op error if it exited already
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("postgres did not stop in 30s; killed")
	}
}

// Private starts a server of t's own, stopped and removed when t ends:
// for a test that halts and resumes PostgreSQL under a running registry,
// which the shared server's other databases must not feel. Without
// PostgreSQL the test is skipped, or fails when RequiredEnv is set.
func Private(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// unavailable skips t for want of PostgreSQL, or fails it when
// RequiredEnv says PostgreSQL must be there.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(RequiredEnv) == "1" {
		t.Fatalf("PostgreSQL: %v", err)
	}
	t.Skipf("no PostgreSQL for this test (%s=1 makes this a failure): %v", RequiredEnv, err)
}

// The shared server of a test binary: started by the first test that asks
// for a database, stopped by Main after every test ran.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests of a binary that uses Database, then stops the
// shared server. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Database returns the DSN of a fresh database on the binary's shared
// server, dropped when t ends. Without PostgreSQL the test is skipped with
// the reason, or fails when RequiredEnv is set.
func Database(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		start := time.Now()
		shared.srv, shared.err = Start()
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL started in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	ctx := context.Background()
	db, err := shared.srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := shared.srv.DropDatabase(context.Background(), db); err != nil && !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	return shared.srv.DSN(db)
}

// StartPrimary starts a server a standby can stream from (StartStandby).
func StartPrimary() (*Server, error) {
	return startServer([]string{"wal_level=replica", "max_wal_senders=4", "wal_keep_size=64MB"}, nil)
}

// StartStandby makes a streaming standby of s (pg_basebackup -R) and
// starts it, then has s wait for it on every commit
// (synchronous_standby_names = '*'): a commit s acknowledges is on the
// standby too. It returns once the standby streams synchronously.
func (s *Server) StartStandby(ctx context.Context) (*Server, error) {
	st, err := startServer(nil, func(st *Server, data string) error {
		out, err := st.command("pg_basebackup", "-D", data, "-h", s.dir, "-p", strconv.Itoa(s.port), "-U", "mcr", "-R", "-X", "stream").CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_basebackup: %w\n%s", err, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, q := range []string{`ALTER SYSTEM SET synchronous_standby_names = '*'`, `SELECT pg_reload_conf()`} {
		if err := s.admin(ctx, q); err != nil {
			_ = st.Stop()
			return nil, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := s.count(ctx, `SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'`)
		if err == nil && n == 1 {
			return st, nil
		}
		if time.Now().After(deadline) {
			_ = st.Stop()
			return nil, fmt.Errorf("the standby is not streaming synchronously after 60s (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) count(ctx context.Context, sql string) (int, error) {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

// Promote makes a standby a primary (pg_ctl promote, waiting until it
// accepts writes) and returns how long that took.
func (s *Server) Promote() (time.Duration, error) {
	began := time.Now()
	out, err := s.command("pg_ctl", "promote", "-w", "-D", filepath.Join(s.dir, "data")).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pg_ctl promote: %w\n%s", err, out)
	}
	return time.Since(began), nil
}

// Kill ends the server at once: SIGKILL to the postmaster and every
// backend in one call, a lost primary. Killing the postmaster alone left
// its backends answering their open connections for the moment they took
// to notice, so a client could still be served right after Kill. Stop
// still removes the directory.
func (s *Server) Kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// FailoverDSN is the connection string of database db on whichever of
// servers accepts writes (target_session_attrs=read-write): the driver
// tries them in order, so after a promotion it finds the new primary.
func FailoverDSN(db string, servers ...*Server) string {
	hosts, ports := make([]string, len(servers)), make([]string, len(servers))
	for i, s := range servers {
		hosts[i], ports[i] = s.dir, strconv.Itoa(s.port)
	}
	return fmt.Sprintf("host=%s port=%s user=mcr dbname=%s sslmode=disable target_session_attrs=read-write",
		strings.Join(hosts, ","), strings.Join(ports, ","), db)
}
