package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// pushed is what a push acknowledged: the manifest and the blobs it uses.
type pushed struct {
	manifest string            // digest
	blobs    map[string][]byte // digest → content
}

// ledger is what the replicas acknowledged, less the tags deleted since.
type ledger struct {
	mu     sync.Mutex
	tags   map[string]pushed // repo:tag → image
	acked  []time.Time       // when each push was acknowledged
	errors map[int]int       // 5xx answers by status
}

func newLedger() *ledger { return &ledger{tags: map[string]pushed{}, errors: map[int]int{}} }

func (l *ledger) put(ref string, im pushed) {
	l.mu.Lock()
	l.tags[ref] = im
	l.acked = append(l.acked, time.Now())
	l.mu.Unlock()
}

// answered counts the server errors clients saw.
func (l *ledger) answered(code int) {
	if code >= 500 {
		l.mu.Lock()
		l.errors[code]++
		l.mu.Unlock()
	}
}

// take removes a tag before it is deleted: once the DELETE is sent, the
// tag may or may not be there.
func (l *ledger) take(ref string) { l.mu.Lock(); delete(l.tags, ref); l.mu.Unlock() }

// pushImages pushes images through random live replicas until ctx ends,
// and deletes every third tag it pushed (feeding the collector untagged
// manifests). A request that fails (its replica died) is not recorded and
// the next one goes elsewhere.
func pushImages(ctx context.Context, c *cluster, w int, l *ledger) {
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, url string, body []byte, hdr ...string) int {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return 0
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		l.answered(res.StatusCode)
		return res.StatusCode
	}
	var mine []string
	for i := 0; ctx.Err() == nil; i++ {
		base := "http://" + c.pick(nil).addr
		repo := fmt.Sprintf("app/r%d", w%3)
		layer := make([]byte, 512+rand.IntN(64<<10))
		for j := range layer {
			layer[j] = byte(rand.Uint32())
		}
		cfg := []byte(fmt.Sprintf(`{"os":"linux","architecture":"amd64","w":%d,"i":%d}`, w, i))
		ld, cd := digestOf(layer), digestOf(cfg)
		if do("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+ld, layer) != http.StatusCreated ||
			do("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+cd, cfg) != http.StatusCreated {
			continue
		}
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
			cd, len(cfg), ld, len(layer)))
		tag := fmt.Sprintf("w%d-%d", w, i)
		// A new replica for the manifest: the blobs must be visible there.
		base = "http://" + c.pick(nil).addr
		if do("PUT", base+"/v2/"+repo+"/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json") != http.StatusCreated {
			continue
		}
		l.put(repo+":"+tag, pushed{manifest: digestOf(m), blobs: map[string][]byte{ld: layer, cd: cfg}})
		mine = append(mine, repo+":"+tag)
		if i%3 == 2 {
			ref := mine[rand.IntN(len(mine))]
			mine = slices.DeleteFunc(mine, func(s string) bool { return s == ref })
			l.take(ref)
			r, t, _ := strings.Cut(ref, ":")
			do("DELETE", base+"/v2/"+r+"/manifests/"+t, nil)
		}
	}
}

// verifyLedger checks through replica r that every acknowledged tag
// resolves to its manifest and that every blob it uses has its bytes.
func verifyLedger(t *testing.T, r *child, l *ledger) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tags) == 0 {
		t.Fatal("no push was acknowledged: the test proved nothing")
	}
	base := "http://" + r.addr
	lost := 0
	for ref, im := range l.tags {
		repo, tag, _ := strings.Cut(ref, ":")
		res, b := send(t, "GET", base+"/v2/"+repo+"/manifests/"+tag, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		if res.StatusCode != http.StatusOK || digestOf(b) != im.manifest {
			t.Errorf("acknowledged tag %s: %s, digest %s, want %s", ref, res.Status, digestOf(b), im.manifest)
			lost++
			continue
		}
		for d, want := range im.blobs {
			res, b := send(t, "GET", base+"/v2/"+repo+"/blobs/"+d, nil)
			if res.StatusCode != http.StatusOK || !bytes.Equal(b, want) {
				t.Errorf("blob %s of acknowledged tag %s: %s", d, ref, res.Status)
				lost++
			}
		}
	}
	t.Logf("%d acknowledged tags verified, %d losses", len(l.tags), lost)
}

// TestReplicasGCLeaderKilled is the GC torture across replicas: three
// replicas on PostgreSQL and S3, clients pushing and deleting through all
// of them, a collection requested through a replica that does not lead;
// its leader is SIGKILLed before the sweep, the next leader's rerun is
// SIGKILLed mid-sweep, and the last replica finishes the work. Nothing
// acknowledged is lost, and the garbage is gone at the end.
func TestReplicasGCLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	c := startCluster(t, 3)
	leader, took := c.waitLeader(t, nil, 30*time.Second)
	t.Logf("first leader %s after %v", leader.addr, took.Round(time.Millisecond))
	seedGarbage(t, c, 200)

	ctx, stop := context.WithCancel(context.Background())
	l := newLedger()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { pushImages(ctx, c, w, l) })
	}
	defer func() { stop(); wg.Wait() }()

	follower := c.pick(leader)
	if j := runGC(t, follower); j.State != "queued" && j.State != "running" {
		t.Fatalf("a collection requested through a follower: %+v", j)
	}
	// Round 1: the leader dies before its sweep.
	j := waitGC(t, follower, "running on the leader", 3*time.Minute, func(j apiv1.Job) bool { return j.State == "running" })
	c.kill(t, leader)
	killed := time.Now()
	t.Logf("killed leader %s in phase %q", leader.addr, j.Note)
	next, took := c.waitLeader(t, leader, takeoverBound)
	t.Logf("takeover by %s %v after the kill (bound %v)", next.addr, took.Round(time.Millisecond), takeoverBound)

	// Round 2: the new leader runs the collection again; it dies mid-sweep.
	waitGC(t, next, "rerun and sweeping", 3*time.Minute, func(j apiv1.Job) bool {
		return j.State == "running" && j.Note == "sweep" && j.Started != nil && j.Started.After(killed)
	})
	c.kill(t, next)
	killed = time.Now()
	last, took := c.waitLeader(t, next, takeoverBound)
	t.Logf("killed %s mid-sweep; takeover by %s %v after the kill", next.addr, last.addr, took.Round(time.Millisecond))

	final := waitGC(t, last, "finished by the last leader", 3*time.Minute, func(j apiv1.Job) bool {
		return j.State == "succeeded" && j.Started != nil && j.Started.After(killed)
	})
	t.Logf("final collection: %s", final.Result)
	stop()
	wg.Wait()
	verifyLedger(t, last, l)
	// The seeded garbage was all swept by the run that finished, and its
	// repositories, left empty, removed.
	for i := range 8 {
		res, b := send(t, "GET", fmt.Sprintf("http://%s/v2/_catalog?n=1000", last.addr), nil)
		if res.StatusCode != http.StatusOK || strings.Contains(string(b), fmt.Sprintf(`"garbage/g%d"`, i)) {
			t.Errorf("garbage repository garbage/g%d still listed after the collection: %s", i, b)
		}
	}
}

// TestReplicasPausedLeaderIsFenced: the leader is paused (SIGSTOP) in the
// middle of a sweep; the other replica takes over within the bound,
// collects, and when the old leader resumes (SIGCONT) its run ends without
// writing: its transactions are fenced, its status save too.
func TestReplicasPausedLeaderIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and pauses server processes")
	}
	c := startCluster(t, 2)
	old, _ := c.waitLeader(t, nil, 30*time.Second)
	other := c.pick(old)
	seedGarbage(t, c, 200)
	runGC(t, other)
	waitGC(t, other, "sweeping on the leader", time.Minute, func(j apiv1.Job) bool { return j.State == "running" && j.Note == "sweep" })
	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	next, took := c.waitLeader(t, old, takeoverBound)
	if next != other {
		t.Fatalf("leader after the pause: %s", next.addr)
	}
	t.Logf("takeover %v after SIGSTOP (bound %v)", took.Round(time.Millisecond), takeoverBound)
	done := waitGC(t, other, "finished by the new leader", 2*time.Minute, func(j apiv1.Job) bool {
		return j.State == "succeeded" && j.Started != nil && j.Started.After(paused)
	})

	if err := old.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The old leader notices it no longer leads.
	wait.Within(t, 30*time.Second, "the resumed leader to see the new one", func() bool {
		var st apiv1.Status
		return adminGet(old, "status", &st) == nil && !st.Leader.Self && strings.HasSuffix(st.Leader.Replica, "/"+other.addr)
	})
	_ = old.cmd.Process.Signal(syscall.SIGTERM)
	_ = old.cmd.Wait()
	log := old.log.String()
	var after apiv1.GCStatus
	if err := adminGet(other, "gc", &after); err != nil {
		t.Fatal(err)
	}
	if after.GC.State != "succeeded" || !after.GC.Started.Equal(*done.Started) {
		t.Fatalf("the shared status changed after the old leader resumed: %+v, want %+v", after.GC, done)
	}
	var ended string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"job":"gc"`) && strings.Contains(line, "job finished") {
			ended = line
		}
	}
	if ended == "" || strings.Contains(ended, `"state":"succeeded"`) {
		t.Fatalf("the resumed leader's collection: %q, want it cut short\n%s", ended, log)
	}
	if !strings.Contains(log, "no longer leading") {
		t.Errorf("the resumed leader did not log that it stopped leading:\n%s", log)
	}
	t.Logf("resumed leader's run: %s", ended)
}
