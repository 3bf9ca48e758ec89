package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
)

// Kind is a registry implementation the harness knows how to start.
type Kind string

// The registries.
const (
	MCR       Kind = "mcr"
	Reference Kind = "reference" // CNCF distribution
)

// Process is a running registry.
type Process struct {
	Kind    Kind
	Backend Backend
	Storage *Storage // nil on FS
	Addr    string   // 127.0.0.1:port
	Dir     string   // its data and log directory
	Version string
	// Username and Password are the credentials clients must send (mcr
	// with builtin auth); empty when the registry is anonymous.
	Username, Password string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logPath string
}

// Options tune Start.
type Options struct {
	// MCRAuth is mcr's auth.mode: "none" (the default, as anonymous as the
	// reference registry's default configuration) or "builtin" (the first
	// admin's generated password is read back and sent as Basic
	// credentials on every request).
	MCRAuth string
	// Storage puts the registry's data in S3 (and mcr's metadata in
	// PostgreSQL) instead of local files (nil: FS).
	Storage *Storage
}

// Start runs bin as a registry of kind k under a fresh directory in
// parent and waits for it to answer.
func Start(ctx context.Context, k Kind, bin, parent string, o Options) (*Process, error) {
	if bin == "" {
		return nil, fmt.Errorf("%s: no binary given", k)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "bench-"+string(k)+"-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &Process{Kind: k, Backend: FS, Addr: addr, Dir: dir, exited: make(chan struct{}), logPath: filepath.Join(dir, "registry.log")}
	if o.Storage != nil {
		p.Backend, p.Storage = S3, o.Storage
	}
	var args []string
	env := cleanEnv()
	switch k {
	case MCR:
		if o.MCRAuth == "" {
			o.MCRAuth = "none"
		}
		if o.MCRAuth != "none" && o.MCRAuth != "builtin" {
			return nil, fmt.Errorf("mcr auth mode %q: want none or builtin", o.MCRAuth)
		}
		args = []string{"serve", "--data", filepath.Join(dir, "data"), "--addr", addr}
		// The load generator is one address standing in for a fleet of
		// CI jobs: the per-caller upload bound (16 at once) would refuse
		// push-image's concurrency, and the reference has none.
		env = append(env, "MCR_LOG_LEVEL=warn", "MCR_AUTH_MODE="+o.MCRAuth, "MCR_UPLOADS_PER_ACCOUNT=0")
		if o.Storage != nil {
			env = append(env, mcrStorageEnv(o.Storage)...)
		}
	case Reference:
		cfg := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfg, []byte(referenceConfig(referenceStorage(filepath.Join(dir, "data"), o.Storage), addr)), 0o644); err != nil {
			return nil, err
		}
		args = []string{"serve", cfg}
	case Null:
		args = []string{NullCommand, "-addr", addr}
	default:
		return nil, fmt.Errorf("unknown registry kind %q", k)
	}
	p.Version = version(k, abs)
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	p.cmd = exec.Command(abs, args...)
	p.cmd.Env = env
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", abs, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, 30*time.Second); err != nil {
		_ = p.Stop()
		tail := p.LogTail()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %w\n%s", k, err, tail)
	}
	if k == MCR && o.MCRAuth == "builtin" {
		pw, err := os.ReadFile(filepath.Join(dir, "data", "initial-admin-password"))
		if err != nil {
			_ = p.Stop()
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("mcr with builtin auth: reading the first admin's password: %w", err)
		}
		p.Username, p.Password = "admin", strings.TrimSpace(string(pw))
	}
	return p, nil
}

// referenceConfig is distribution's configuration for the comparison:
// the storage driver section given (referenceStorage), deletes enabled, the blob-descriptor cache as the
// project's example configuration ships it (in memory), warnings only and
// no access log (mcr logs no access lines at warn either).
func referenceConfig(storage, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
%s  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: %s
health:
  storagedriver:
    enabled: false
`, storage, addr)
}

// cleanEnv is the environment minus MCR_* (test and harness knobs that
// mcrsrv would read as configuration) and REGISTRY_* (distribution's).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCR_") || strings.HasPrefix(kv, "REGISTRY_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	// distribution exports traces unless told not to.
	return append(env, "OTEL_TRACES_EXPORTER=none")
}

func version(k Kind, bin string) string {
	if k == Null {
		return "null registry (the harness, fasthttp)"
	}
	arg := "version"
	if k == Reference {
		arg = "--version"
	}
	out, err := exec.Command(bin, arg).Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if k == Reference {
		// "<path> <module> <version>": the path says nothing.
		if f := strings.Fields(v); len(f) == 3 {
			v = f[1] + " " + f[2]
		}
	}
	return v
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (p *Process) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	for {
		resp, err := hc.Get("http://" + p.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 401: up, and asking for credentials (checked by the caller).
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			err = fmt.Errorf("GET /v2/ answered %d", resp.StatusCode)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited during start-up: %v", p.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", limit, err)
		}
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM, waits up to 30 s, then kills.
func (p *Process) Stop() error {
	if !p.Alive() {
		return p.waitErr
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		var ee *exec.ExitError
		if errors.As(p.waitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return p.waitErr
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within 30s of SIGTERM: killed", p.Kind)
	}
}

// LogTail is the end of the process's log, for error messages.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ResetPeak resets the kernel's peak-RSS counter (VmHWM) of the process
// (writing 5 to /proc/<pid>/clear_refs, Linux ≥ 4.0).
func (p *Process) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.Pid()), []byte("5"), 0)
}

// PeakMiB is VmHWM of the process in MiB: the peak resident set since
// start or the last ResetPeak.
func (p *Process) PeakMiB() (float64, error) { return procStatusMiB(p.Pid(), "VmHWM") }

func procStatusMiB(pid int, field string) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// CPU is the process's user + system time so far.
func (p *Process) CPU() time.Duration { return machine.ProcCPU(p.Pid()) }

// RSSMiB is VmRSS of the process in MiB: its resident set now.
func (p *Process) RSSMiB() (float64, error) { return procStatusMiB(p.Pid(), "VmRSS") }
