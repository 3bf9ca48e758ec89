package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// Replica tests: several mcrsrv processes (this test binary, see TestMain)
// sharing one PostgreSQL database and one S3 bucket, as behind a load
// balancer; the tests talk to each replica directly.

// Lease and timeout settings of the replica tests: a dead leader is
// replaced within leaseTTL*4/3, plus idleTxn when it died inside a
// fenced transaction (its session holds the lease row until PostgreSQL
// ends it).
const (
	leaseTTL = 3 * time.Second
	idleTxn  = 2 * time.Second
)

// takeoverBound is docs/scale-out.md's bound on a takeover, plus slack
// for a loaded 2-core test machine.
const takeoverBound = leaseTTL*4/3 + idleTxn + 3*time.Second

type cluster struct {
	env  []string
	mu   sync.Mutex
	reps []*child // nil once killed
}

// startCluster starts n replicas on a fresh database and bucket, with
// garbage collected on demand only, no grace period, untagged manifests
// collected, and a collection paced slowly enough to be caught mid-phase.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return startClusterOn(t, n, pgtest.Database(t))
}

// startClusterOn is startCluster on the database dsn names.
func startClusterOn(t *testing.T, n int, dsn string) *cluster {
	t.Helper()
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, fmt.Sprintf("replicas-%d", time.Now().UnixNano()))
	c := &cluster{env: []string{
		"MCR_LOG_LEVEL=info",
		"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN=" + dsn,
		"MCR_METADATA_POSTGRES_IDLE_TXN_TIMEOUT=" + idleTxn.String(),
		"MCR_STORAGE_BACKEND=s3", "MCR_STORAGE_S3_ENDPOINT=" + cfg.Endpoint, "MCR_STORAGE_S3_BUCKET=" + cfg.Bucket,
		"MCR_STORAGE_S3_REGION=" + cfg.Region, "MCR_STORAGE_S3_ACCESS_KEY_ID=" + cfg.AccessKeyID,
		"MCR_STORAGE_S3_SECRET_ACCESS_KEY=" + cfg.SecretAccessKey, "MCR_STORAGE_S3_PART_SIZE=5MiB",
		"MCR_JOBS_LEASE_TTL=" + leaseTTL.String(),
		"MCR_GC_INTERVAL=0s", "MCR_GC_GRACE=0s", "MCR_GC_DELETE_UNTAGGED=true", "MCR_GC_DUTY=1", "MCR_GC_WORKERS=1",
		"MCR_JOBS_UPLOADS_INTERVAL=0s", "MCR_AUDIT_RETENTION_INTERVAL=0s",
	}}
	for range n {
		c.reps = append(c.reps, startServer(t, t.TempDir(), freePort(t), c.env...))
	}
	t.Cleanup(func() {
		for _, r := range c.live() {
			_ = r.cmd.Process.Signal(syscall.SIGCONT)
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
			if t.Failed() {
				b := r.log.Bytes()
				t.Logf("replica %s log:\n%s", r.addr, b[max(0, len(b)-8192):])
			}
		}
	})
	return c
}

// live is the replicas not killed.
func (c *cluster) live() []*child {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*child
	for _, r := range c.reps {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// pick is a random live replica other than not.
func (c *cluster) pick(not *child) *child {
	live := c.live()
	for range 8 {
		if r := live[rand.IntN(len(live))]; r != not || len(live) == 1 {
			return r
		}
	}
	return live[0]
}

// kill SIGKILLs r and waits for it.
func (c *cluster) kill(t *testing.T, r *child) {
	t.Helper()
	c.mu.Lock()
	for i, x := range c.reps {
		if x == r {
			c.reps[i] = nil
		}
	}
	c.mu.Unlock()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.cmd.Wait()
}

var adminClient = &http.Client{Timeout: 10 * time.Second}

// adminGet decodes GET /api/v1/<path> of replica r into v.
func adminGet(r *child, path string, v any) error {
	res, err := adminClient.Get("http://" + r.addr + "/api/v1/" + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", path, res.Status, b)
	}
	return json.Unmarshal(b, v)
}

// runGC asks replica r for a collection (mcrctl gc run does this POST).
func runGC(t *testing.T, r *child) apiv1.Job {
	t.Helper()
	res, b := send(t, "POST", "http://"+r.addr+"/api/v1/gc", strings.NewReader(`{}`), "Content-Type", "application/json")
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /gc on %s: %s %s", r.addr, res.Status, b)
	}
	var j apiv1.Job
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// waitLeader polls the live replicas until one other than not says it
// leads and another agrees, and returns it with how long that took.
func (c *cluster) waitLeader(t *testing.T, not *child, within time.Duration) (*child, time.Duration) {
	t.Helper()
	began := time.Now()
	var leader *child
	wait.Within(t, within, "a replica that leads, the others agreeing", func() bool {
		leader = c.agreedLeader(t, not)
		return leader != nil
	})
	return leader, time.Since(began)
}

// agreedLeader is the live replica other than not that says it leads,
// when every other live one names it too; nil otherwise.
func (c *cluster) agreedLeader(t *testing.T, not *child) *child {
	for _, r := range c.live() {
		var st apiv1.Status
		if r == not || adminGet(r, "status", &st) != nil || !st.Leader.Self {
			continue
		}
		if !strings.HasSuffix(st.Leader.Replica, "/"+r.addr) {
			t.Fatalf("replica %s leads but the lease names %q", r.addr, st.Leader.Replica)
		}
		for _, o := range c.live() {
			var ost apiv1.Status
			if o != r && o != not && (adminGet(o, "status", &ost) != nil || ost.Leader.Self || ost.Leader.Replica != st.Leader.Replica) {
				return nil
			}
		}
		return r
	}
	return nil
}

// waitGC polls replica r's view of the collection until cond holds.
func waitGC(t *testing.T, r *child, what string, within time.Duration, cond func(apiv1.Job) bool) apiv1.Job {
	t.Helper()
	var st apiv1.GCStatus
	wait.Within(t, within, "the collection "+what, func() bool {
		st = apiv1.GCStatus{}
		return adminGet(r, "gc", &st) == nil && cond(st.GC)
	})
	return st.GC
}

// seedGarbage pushes n unreferenced blobs through random replicas: with
// no grace period, a collection sweeps every one of them.
func seedGarbage(t *testing.T, c *cluster, n int) {
	t.Helper()
	for i := range n {
		b := []byte(fmt.Sprintf("garbage %d %d", i, rand.Int64()))
		r := c.pick(nil)
		res, body := send(t, "POST", fmt.Sprintf("http://%s/v2/garbage/g%d/blobs/uploads/?digest=%s", r.addr, i%8, digestOf(b)), bytes.NewReader(b))
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("seeding garbage: %s %s", res.Status, body)
		}
	}
}
