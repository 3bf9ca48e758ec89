package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// Environment variables read by this package (see doc.go).
const (
	envEnable   = "MCR_E2E"
	envToolsBin = "MCR_TOOLS_BIN"
	envBin      = "MCR_BIN"
	envRegistry = "MCR_E2E_REGISTRY"
	envKeep     = "MCR_E2E_KEEP"
	envImage    = "MCR_IMAGE"
)

const (
	readyTimeout = 30 * time.Second // server start to GET /v2/ == 200
	stopTimeout  = 15 * time.Second // SIGTERM to exit, then SIGKILL
	// Server log printed on failure: its last lines, earlier problems, and
	// the width a line is cut to.
	logTailLines    = 60
	logProblemLines = 20
	logLineMax      = 300
)

// runID makes repository names unique per test process, so that runs
// against a long-lived registry (MCR_E2E_REGISTRY) start from empty repos.
var runID = fmt.Sprintf("run-%d", time.Now().UnixNano())

var buildDir string // go build output when MCR_BIN is unset; removed by TestMain

func TestMain(m *testing.M) {
	code := pgtest.Main(m) // stops the PostgreSQL server of the postgres runs
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// requireE2E skips the test unless MCR_E2E is set: these tests need real
// tools and start processes, so they belong to `make test`, not to every
// `go test ./...` on a laptop.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv(envEnable) == "" {
		t.Skipf("end-to-end test: needs the pinned tools; `make test` runs it (or set %s=1 after `make tools`)", envEnable)
	}
}

// requireOwnServer skips a test that starts a server configured its own
// way (what) when the suite runs against an external one (MCR_REGISTRY).
func requireOwnServer(t *testing.T, what string) {
	t.Helper()
	if os.Getenv(envRegistry) != "" {
		t.Skipf("%s is set: this test needs a server of its own %s", envRegistry, what)
	}
}

// tool returns the path of a required binary: MCR_TOOLS_BIN first, then PATH.
// A missing tool fails the test: with MCR_E2E=1 nothing is optional.
func tool(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv(envToolsBin); dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required but was found neither in %s=%q nor in PATH: run `make tools`", name, envToolsBin, os.Getenv(envToolsBin))
	}
	return p
}

// workDir returns a fresh directory for the test: a t.TempDir, or a kept
// directory under MCR_E2E_KEEP for inspection after the run.
func workDir(t *testing.T, name string) string {
	t.Helper()
	keep := os.Getenv(envKeep)
	if keep == "" {
		return t.TempDir()
	}
	slug := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp(keep, slug+"-"+name+"-")
	if err != nil {
		t.Fatalf("MCR_E2E_KEEP: %v", err)
	}
	t.Logf("keeping %s", dir)
	return dir
}

// registry is a registry under test, reachable over plain HTTP or, when
// tls is set, over HTTPS.
type registry struct {
	host string // host:port, as clients spell it
	base string // http://host:port or https://host:port
	data string // the server's data directory ("" for MCR_E2E_REGISTRY)
	// tls is what a Go client needs to reach the server over HTTPS (the
	// CA to trust, a client certificate for mutual TLS); nil: plain HTTP.
	tls *tls.Config
	// caFile is the CA bundle external clients trust (SSL_CERT_FILE).
	caFile string
	proc   *os.Process // the server ("" registry: nil)
	log    string      // the server's log file
}

// client is an HTTP client for the registry, plain or TLS; each has its
// own connections.
func (r *registry) client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: r.tls.Clone()}}
}

// startRegistry starts a fresh mcrsrv with extra environment (KEY=VALUE) and
// stops it when the test ends. With MCR_E2E_REGISTRY set it returns that
// registry instead and serverEnv is not applied.
func startRegistry(t *testing.T, serverEnv ...string) *registry {
	t.Helper()
	return startRegistryOn(t, "", serverEnv...)
}

// startRegistryOn is startRegistry on dataDir, prepared by the test (e.g.
// with mcrsrv init and the offline account commands); "" is a fresh one.
func startRegistryOn(t *testing.T, dataDir string, serverEnv ...string) *registry {
	t.Helper()
	return launch(t, dataDir, nil, "", serverEnv)
}

// startTLSRegistry starts a fresh mcrsrv whose serverEnv turns TLS on
// (MCR_TLS_*); clientTLS and caFile are how clients trust it.
func startTLSRegistry(t *testing.T, clientTLS *tls.Config, caFile string, serverEnv ...string) *registry {
	t.Helper()
	requireOwnServer(t, "with TLS on")
	return launch(t, "", clientTLS, caFile, serverEnv)
}

// launch is startRegistryOn, over TLS when clientTLS is set.
func launch(t *testing.T, dataDir string, clientTLS *tls.Config, caFile string, serverEnv []string) *registry {
	t.Helper()
	if host := os.Getenv(envRegistry); host != "" {
		reg := &registry{host: host, base: "http://" + host}
		if code, err := reg.ping(); err != nil || code != http.StatusOK {
			t.Fatalf("%s=%s: GET /v2/ answered %d, %v; want 200 (anonymous, plain HTTP)", envRegistry, host, code, err)
		}
		if len(serverEnv) > 0 {
			t.Logf("using running registry %s (%s): server settings %v are not applied", host, envRegistry, serverEnv)
		} else {
			t.Logf("using running registry %s (%s)", host, envRegistry)
		}
		return reg
	}

	bin := serverBinary(t)
	addr := freeAddr(t)
	dir := workDir(t, "server")
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	cmd := exec.Command(bin, "serve", "--data", dataDir, "--addr", addr)
	// Auth is off unless a test turns it on (MCR_AUTH_MODE=builtin in
	// serverEnv: the later duplicate wins).
	cmd.Env = append(append(serverEnviron(), "MCR_AUTH_MODE=none"), serverEnv...)
	c := startChild(t, "mcrsrv", cmd, filepath.Join(dir, "mcrsrv.log"))
	t.Logf("started %s (pid %d) with %v", strings.Join(cmd.Args, " "), cmd.Process.Pid, serverEnv)

	t.Cleanup(func() {
		if c.gone() {
			t.Errorf("mcrsrv exited before the test ended: %v", describeExit(c.waitErr))
		} else {
			switch took, stopped, err := c.stop(syscall.SIGTERM); {
			case !stopped:
				t.Errorf("mcrsrv still running %s after SIGTERM: killed", stopTimeout)
			case err != nil:
				t.Errorf("mcrsrv did not exit cleanly on SIGTERM: %v after %.1fs", describeExit(err), took.Seconds())
			default:
				t.Logf("mcrsrv exited cleanly %.2fs after SIGTERM", took.Seconds())
			}
		}
		c.logOnFailure(t)
	})

	reg := &registry{host: addr, base: "http://" + addr, data: dataDir, tls: clientTLS, caFile: caFile, proc: cmd.Process, log: c.log}
	if clientTLS != nil {
		reg.base = "https://" + addr
	}
	c.waitReady(t, func() (bool, string) {
		code, err := reg.ping()
		// 401: up, with auth on.
		return err == nil && (code == http.StatusOK || code == http.StatusUnauthorized), fmt.Sprintf("GET /v2/ answered %d, %v", code, err)
	})
	return reg
}

// serverEnviron is this process's environment minus the test's own MCR_*
// knobs, which the server would otherwise read as configuration.
func serverEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case envEnable, envToolsBin, envBin, envRegistry, envKeep, envImage, pgtest.RequiredEnv, envScreenshots:
			continue
		}
		env = append(env, kv)
	}
	return env
}

var serverBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mcrsrv-e2e-build-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "mcrsrv")
	out, err := exec.Command(goTool(), "build", "-o", bin, "git.wntrmute.dev/kyle/mcr/cmd/mcrsrv").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/mcrsrv: %v\n%s", err, out)
	}
	return bin, nil
})

// serverBinary is MCR_BIN, or ./cmd/mcrsrv built once per test process.
func serverBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv(envBin); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s=%s: %v (run `make build`)", envBin, bin, err)
		}
		return bin
	}
	bin, err := serverBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// freeAddr picks a loopback port that is free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// ping is the status of GET /v2/ on a connection of its own.
func (r *registry) ping() (int, error) {
	resp, err := r.getV2(2 * time.Second)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// getV2 answers GET /v2/ on a new connection, closed again; the body is
// closed too, the status and TLS state remain.
func (r *registry) getV2(timeout time.Duration) (*http.Response, error) {
	c := r.client(timeout)
	defer c.CloseIdleConnections()
	resp, err := c.Get(r.base + "/v2/")
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

var logProblem = regexp.MustCompile(`(?i)"level":"(error|fatal|panic|warn)"|level=(error|fatal|warn)|\bpanic\b|\b(ERR|ERROR|FTL|WRN)\b|DATA RACE`)

// ansiEscape matches terminal colour codes, which console loggers may write
// even to a file.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// logExcerpt returns the end of a server log, preceded by the warning and
// error lines of the part before it: that is where a failure's cause is.
func logExcerpt(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var all []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := ansiEscape.ReplaceAllString(sc.Text(), "")
		if len(line) > logLineMax {
			line = line[:logLineMax] + "..."
		}
		all = append(all, line)
	}
	cut := max(0, len(all)-logTailLines)
	var problems []string
	for _, line := range all[:cut] {
		if logProblem.MatchString(line) && len(problems) < logProblemLines {
			problems = append(problems, line)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %d lines, %d bytes\n", len(all), len(data))
	if len(problems) > 0 {
		fmt.Fprintf(&b, "--- warnings and errors before the last %d lines (first %d):\n%s\n", logTailLines, len(problems), strings.Join(problems, "\n"))
	}
	fmt.Fprintf(&b, "--- last %d lines:\n%s", len(all)-cut, strings.Join(all[cut:], "\n"))
	return b.String()
}

// command runs external programs with a private environment, a timeout and
// captured output.
type command struct {
	t       *testing.T
	bin     string
	env     []string // full environment
	dir     string   // working directory; "" = inherit
	timeout time.Duration
}

// result is one finished run: its output and an error that names the
// command, its exit status and the tail of its stderr.
type result struct {
	stdout, stderr string
	err            error
}

func (c command) run(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	line := filepath.Base(c.bin) + " " + strings.Join(args, " ")
	c.t.Logf("$ %s  (%.2fs)", line, time.Since(start).Seconds())
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", c.timeout)
	}
	if err != nil {
		r.err = fmt.Errorf("`%s` failed: %v\nstdout: %s\nstderr: %s", line, err, tail(r.stdout, 1500), tail(r.stderr, 3000))
	}
	return r
}

// tail keeps the end of s, where command-line tools print their error.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// isolatedEnv returns this process's environment with HOME and the client
// configuration locations moved into dir, so no user credentials, registry
// mirrors or insecure-registry settings leak into a test.
func isolatedEnv(t *testing.T, dir string) []string {
	t.Helper()
	home := filepath.Join(dir, "home")
	docker := filepath.Join(dir, "docker")
	for _, d := range []string{home, docker} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(docker, "config.json"):  "{}",
		filepath.Join(dir, "auth.json"):       "{}",
		filepath.Join(dir, "registries.conf"): "",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	override := map[string]string{
		"HOME":                       home,
		"XDG_CONFIG_HOME":            filepath.Join(home, ".config"),
		"DOCKER_CONFIG":              docker,                                // crane, oras
		"REGCTL_CONFIG":              filepath.Join(dir, "regctl.json"),     // regctl
		"REGISTRY_AUTH_FILE":         filepath.Join(dir, "auth.json"),       // skopeo
		"CONTAINERS_REGISTRIES_CONF": filepath.Join(dir, "registries.conf"), // skopeo
		"NO_COLOR":                   "1",
	}
	var env []string
	for _, kv := range os.Environ() {
		k := strings.SplitN(kv, "=", 2)[0]
		if _, ok := override[k]; ok || strings.HasPrefix(k, "OCI_") || k == "HTTP_PROXY" || k == "HTTPS_PROXY" ||
			k == "http_proxy" || k == "https_proxy" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range override {
		env = append(env, k+"="+v)
	}
	return env
}

// postgresEnv points a server's metadata at a fresh database on the test
// binary's PostgreSQL server (pgtest): the server creates its tables.
func postgresEnv(t *testing.T) []string {
	t.Helper()
	return []string{"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN=" + pgtest.Database(t)}
}
