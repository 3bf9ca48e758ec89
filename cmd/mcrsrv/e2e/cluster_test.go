package e2e

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
	"testing"
	"time"
)

// haproxyConf is the committed HAProxy example the cluster runs.
const haproxyConf = "../../../deploy/haproxy/haproxy.cfg"

// replicaCount is the cluster's size: the number of server lines in
// haproxyConf.
const replicaCount = 3

// lbTimeout bounds how long HAProxy may take to see a replica change
// state: its checks run every second and need two failures for DOWN.
const lbTimeout = 15 * time.Second

// cluster is several mcrsrv replicas sharing one PostgreSQL database and
// one S3 bucket, behind HAProxy (docs/scale-out.md).
type cluster struct {
	lb       *registry // HAProxy: where clients connect
	replicas []*proc   // replicas[i] is HAProxy's server mcr<i+1>
	stats    string    // HAProxy's stats, as CSV
}

// startCluster starts PostgreSQL (pgtest) and an S3 server (s3test), the
// replicas with the same settings plus env, and HAProxy running
// deploy/haproxy/haproxy.cfg with the test's addresses; it returns once
// HAProxy sees every replica up. Everything stops when the test ends.
func startCluster(t *testing.T, env ...string) *cluster {
	t.Helper()
	requireE2E(t)
	if os.Getenv(envRegistry) != "" {
		t.Skipf("%s is set: this test runs a cluster of its own", envRegistry)
	}
	haproxy := tool(t, "haproxy")
	dir := workDir(t, "cluster")
	shared := append(append(append(s3Env(t, false), postgresEnv(t)...), "MCR_HTTP_TRUSTED_PROXIES=127.0.0.1"), env...)
	c := &cluster{}
	// One after the other: the first creates the schema, the token
	// signing key and (auth on) the first admin, whose password only its
	// data directory holds.
	for i := range replicaCount {
		c.replicas = append(c.replicas, startProc(t, filepath.Join(dir, fmt.Sprintf("replica%d", i+1)), shared))
	}
	front, stats := freeAddr(t), freeAddr(t)
	conf := renderHAProxy(t, front, stats, c.replicas)
	confPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", confPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c refuses %s: %v\n%s", haproxyConf, err, out)
	}
	startHAProxy(t, haproxy, confPath, filepath.Join(dir, "haproxy.log"))
	c.lb = &registry{host: front, base: "http://" + front}
	c.stats = "http://" + stats + "/stats;csv"
	for i := range c.replicas {
		c.await(t, i, "UP")
	}
	return c
}

// renderHAProxy is the committed configuration with the example
// addresses replaced by the test's; a placeholder that went missing fails
// the test, so the example and the test cannot drift apart.
func renderHAProxy(t *testing.T, front, stats string, replicas []*proc) string {
	t.Helper()
	raw, err := os.ReadFile(haproxyConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	repl := map[string]string{
		"bind 127.0.0.1:5000 ": "bind " + front + " ",
		"bind 127.0.0.1:8404 ": "bind " + stats + " ",
	}
	for i, p := range replicas {
		repl[fmt.Sprintf("server mcr%d 127.0.0.1:500%d ", i+1, i+1)] = fmt.Sprintf("server mcr%d %s ", i+1, p.addr)
	}
	for old, new := range repl {
		if strings.Count(conf, old) != 1 {
			t.Fatalf("%s no longer contains %q once: update the test's placeholders", haproxyConf, old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	return conf
}

// startHAProxy runs HAProxy in the foreground (-db) until the test ends.
func startHAProxy(t *testing.T, haproxy, conf, logPath string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(haproxy, "-db", "-f", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy log (%s):\n%s", logPath, logExcerpt(logPath))
		}
	})
}

// server is one replica's line of HAProxy's statistics.
type server struct {
	status  string // UP, DOWN, ...
	current int    // requests being served now (scur)
	total   int    // requests served (stot)
}

// servers reads HAProxy's view of the replicas, in order.
func (c *cluster) servers(t *testing.T) []server {
	t.Helper()
	srv, err := c.readServers()
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func (c *cluster) readServers() ([]server, error) {
	res, err := http.Get(c.stats)
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
	out := make([]server, len(c.replicas))
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
		out[i-1] = server{status: r[col["status"]], current: cur, total: tot}
	}
	return out, nil
}

// await waits until HAProxy reports replica i in status.
func (c *cluster) await(t *testing.T, i int, status string) {
	t.Helper()
	deadline := time.Now().Add(lbTimeout)
	for {
		// HAProxy may not listen yet right after its start.
		srv, err := c.readServers()
		if err == nil && srv[i].status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not report replica %d %s after %s: %+v, %v", i+1, status, lbTimeout, srv, err)
		}
		time.Sleep(50 * time.Millisecond) // polling HAProxy's observable state, bounded above
	}
}

// checkSpread requires that every replica served a fair share of the
// requests HAProxy passed on: round robin, no stickiness.
func (c *cluster) checkSpread(t *testing.T) {
	t.Helper()
	srv := c.servers(t)
	sum := 0
	for _, s := range srv {
		sum += s.total
	}
	if sum < 100 {
		t.Fatalf("HAProxy passed on %d requests: too few to judge", sum)
	}
	for i, s := range srv {
		t.Logf("replica %d served %d of %d requests", i+1, s.total, sum)
		if s.total*2*len(srv) < sum { // less than half an even share
			t.Errorf("replica %d served %d of %d requests: not round robin", i+1, s.total, sum)
		}
	}
}
