package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/deploy/haproxy"
)

// replicaCount is the cluster's size.
const replicaCount = 3

// lbTimeout bounds how long HAProxy may take to see a replica change
// state: its checks run every second and need two failures for DOWN.
const lbTimeout = 15 * time.Second

// cluster is several mcrsrv replicas sharing one PostgreSQL database and
// one S3 bucket, behind HAProxy (docs/scale-out.md).
type cluster struct {
	lb       *registry      // HAProxy: where clients connect
	replicas []*proc        // replicas[i] is HAProxy's server mcr<i+1>
	proxy    *haproxy.Proxy // HAProxy itself
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
	haproxyBin := tool(t, "haproxy")
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
	var addrs []string
	for _, p := range c.replicas {
		addrs = append(addrs, p.addr)
	}
	proxy, err := haproxy.Start(haproxyBin, dir, front, stats, addrs)
	if err != nil {
		t.Fatal(err)
	}
	c.proxy = proxy
	t.Cleanup(func() {
		proxy.Stop(stopTimeout)
		if t.Failed() {
			t.Logf("haproxy log (%s):\n%s", proxy.Log, logExcerpt(proxy.Log))
		}
	})
	c.lb = &registry{host: front, base: "http://" + front}
	if err := proxy.AwaitUp(lbTimeout); err != nil {
		t.Fatal(err)
	}
	return c
}

// servers reads HAProxy's view of the replicas, in order.
func (c *cluster) servers(t *testing.T) []haproxy.Server {
	t.Helper()
	srv, err := c.proxy.Servers()
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// await waits until HAProxy reports replica i in status.
func (c *cluster) await(t *testing.T, i int, status string) {
	t.Helper()
	err := c.proxy.Await(lbTimeout, fmt.Sprintf("replica %d %s", i+1, status), func(srv []haproxy.Server) bool { return srv[i].Status == status })
	if err != nil {
		t.Fatal(err)
	}
}

// checkSpread requires that every replica served a fair share of the
// requests HAProxy passed on: round robin, no stickiness.
func (c *cluster) checkSpread(t *testing.T) {
	t.Helper()
	srv := c.servers(t)
	sum := 0
	for _, s := range srv {
		sum += s.Total
	}
	if sum < 100 {
		t.Fatalf("HAProxy passed on %d requests: too few to judge", sum)
	}
	for i, s := range srv {
		t.Logf("replica %d served %d of %d requests", i+1, s.Total, sum)
		if s.Total*2*len(srv) < sum { // less than half an even share
			t.Errorf("replica %d served %d of %d requests: not round robin", i+1, s.Total, sum)
		}
	}
}
