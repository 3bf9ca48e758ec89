package haproxy

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proxy is a running HAProxy in the foreground (-db).
type Proxy struct {
	// Stats is the statistics page as CSV.
	Stats string
	// Log is the file HAProxy writes its request log and messages to.
	Log      string
	replicas int
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Start renders the example (Render) into dir/haproxy.cfg, has HAProxy
// check it (-c), and runs HAProxy (binary bin) on it, logging to
// dir/haproxy.log. Stop it with Stop.
func Start(bin, dir, front, stats string, replicas []string) (*Proxy, error) {
	conf, err := Render(front, stats, replicas)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "-c", "-f", confPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c refuses the rendered haproxy.cfg: %v\n%s", err, out)
	}
	p := &Proxy{Stats: "http://" + stats + "/stats;csv", Log: filepath.Join(dir, "haproxy.log"), replicas: len(replicas), exited: make(chan struct{})}
	logFile, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // HAProxy keeps its own descriptor
	p.cmd = exec.Command(bin, "-db", "-f", confPath)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Pid is HAProxy's process id (one process: the example runs no master).
func (p *Proxy) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Proxy) Stop(timeout time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Server is one replica's line of HAProxy's statistics.
type Server struct {
	Status  string // UP, DOWN, ...
	Current int    // requests being served now (scur)
	Total   int    // requests served (stot)
}

// Servers reads HAProxy's view of the replicas, in the order Start was
// given them.
func (p *Proxy) Servers() ([]Server, error) {
	res, err := http.Get(p.Stats)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HAProxy stats: %d %v %s", res.StatusCode, err, body)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "# "))).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("HAProxy stats: %v\n%s", err, body)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := make([]Server, p.replicas)
	for _, r := range rows[1:] {
		if len(r) < len(rows[0]) || r[col["pxname"]] != "mcr" || !strings.HasPrefix(r[col["svname"]], "mcr") {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(r[col["svname"]], "mcr"))
		if err != nil || i < 1 || i > len(out) {
			continue
		}
		cur, _ := strconv.Atoi(r[col["scur"]])
		tot, _ := strconv.Atoi(r[col["stot"]])
		out[i-1] = Server{Status: r[col["status"]], Current: cur, Total: tot}
	}
	return out, nil
}

// AwaitUp waits until HAProxy reports every replica UP.
func (p *Proxy) AwaitUp(limit time.Duration) error {
	return p.Await(limit, "every replica UP", func(srv []Server) bool {
		for _, s := range srv {
			if s.Status != "UP" {
				return false
			}
		}
		return true
	})
}

// Await polls the statistics until cond holds of them, for at most limit:
// HAProxy's checks run every second and need two failures for DOWN.
func (p *Proxy) Await(limit time.Duration, what string, cond func([]Server) bool) error {
	deadline := time.Now().Add(limit)
	for {
		srv, err := p.Servers() // HAProxy may not listen yet right after its start
		if err == nil && cond(srv) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("haproxy exited (log: %s)", p.Log)
		case <-time.After(50 * time.Millisecond): // polling HAProxy's observable state, bounded by the deadline
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("HAProxy does not report %s after %s: %+v, %v", what, limit, srv, err)
		}
	}
}
