package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the CLI in-process against one real mcrsrv, built and
// started by TestMain with builtin auth: an admin (from mcrsrv init) and a
// non-admin human "bob" (from the offline account command).

const (
	adminPW = "admin-password-for-mcrctl-tests"
	bobPW   = "bob-password-for-mcrctl-tests"
)

var srv struct {
	base     string // http://127.0.0.1:PORT
	data     string // the server's data directory
	adminCfg string // a config file logged in as admin
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "mcrctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	stop, err := startServer(tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcrctl tests: starting mcrsrv:", err)
		return 1
	}
	defer stop()
	srv.adminCfg = filepath.Join(tmp, "admin", "mcrctl.json")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"mcrctl", "--config", srv.adminCfg, "login", "--username", "admin", "--password-stdin", srv.base},
		streams{In: strings.NewReader(adminPW + "\n"), Out: &out, Err: &errb, Getenv: noEnv})
	if code != 0 {
		fmt.Fprintf(os.Stderr, "mcrctl tests: admin login: exit %d: %s%s\n", code, out.String(), errb.String())
		return 1
	}
	return m.Run()
}

// startServer builds mcrsrv, prepares a data directory with two accounts,
// serves it on a free loopback port and returns how to stop it.
func startServer(tmp string) (func(), error) {
	bin := filepath.Join(tmp, "mcrsrv")
	if out, err := exec.Command("go", "build", "-o", bin, "git.wntrmute.dev/kyle/mcr/cmd/mcrsrv").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	srv.data = filepath.Join(tmp, "data")
	adminFile, bobFile := filepath.Join(tmp, "admin-pw"), filepath.Join(tmp, "bob-pw")
	if err := os.WriteFile(adminFile, []byte(adminPW+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(bobFile, []byte(bobPW+"\n"), 0o600); err != nil {
		return nil, err
	}
	// A short aggregation window: the failed login a test makes shows in
	// the audit log within a second or two, not a minute.
	env := append(os.Environ(), "MCR_LOG_LEVEL=warn", "MCR_AUDIT_AGGREGATE_WINDOW=1s")
	for _, args := range [][]string{
		{"init", "--data", srv.data, "--admin-password-file", adminFile},
		{"account", "add", "--data", srv.data, "--name", "bob", "--type", "human", "--password-file", bobFile},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("mcrsrv %s: %v\n%s", args[0], err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	logPath := filepath.Join(tmp, "mcrsrv.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "serve", "--data", srv.data, "--addr", addr, "--auth", "builtin")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	srv.base = "http://" + addr
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := hc.Get(srv.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("mcrsrv exited during start-up:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("mcrsrv not ready after 30s:\n%s", b)
		}
	}
}

func noEnv(string) string { return "" }

// result is one run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines (audit tail -f).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ctl runs mcrctl with args, env (KEY=VALUE) and stdin, bounded by a minute.
func ctl(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"mcrctl"}, args...), streams{
		In: strings.NewReader(stdin), Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// admin runs mcrctl logged in as the admin (the refresh token of the
// config file TestMain's login wrote).
func admin(t *testing.T, args ...string) result {
	t.Helper()
	return ctl(t, map[string]string{"MCR_CONFIG": srv.adminCfg}, "", args...)
}

// ok fails the test unless r succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// want fails the test unless r exited with code and its stderr holds
// errCode.
func (r result) want(t *testing.T, code int, errCode string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, errCode) {
		t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", r.code, code, errCode, r.stdout, r.stderr)
	}
}

// decode parses r's stdout as JSON into v, zeroed first: a field the
// answer lacks must not keep an earlier value.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r.stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one JSON document on stdout:\n%s", r.stdout)
	}
}
