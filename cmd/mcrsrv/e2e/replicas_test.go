package e2e

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReplicas runs three replicas on one PostgreSQL database and one S3
// bucket behind HAProxy (deploy/haproxy/haproxy.cfg: round robin, no
// stickiness) and drives the registry through HAProxy: both conformance
// profiles and the four real clients, a chunked upload whose every
// request goes to another replica, tag lists right on every replica after
// a push on one, the push/retag hammer, and the SIGKILL of the replica
// serving a streaming upload followed by the spec's resume flow. One
// cluster serves every subtest; the kill comes last.
func TestReplicas(t *testing.T) {
	suite := tool(t, "conformance")
	// Sparse manifests for the development profile's data set.
	c := startCluster(t, "MCR_MANIFEST_ALLOW_SPARSE=true")
	t.Run("conformance", func(t *testing.T) {
		for _, run := range []struct {
			name string
			env  []string
		}{
			{"v1.1", []string{"OCI_VERSION=1.1"}},
			{"dev", []string{"OCI_VERSION=dev", "OCI_DATA_SPARSE=true", "OCI_API_BLOBS_UPLOAD_CANCEL=true"}},
		} {
			t.Run(run.name, func(t *testing.T) {
				t.Parallel()
				runConformance(t, suite, c.lb, "replicas-"+run.name, run.env)
			})
		}
	})
	t.Run("clients", func(t *testing.T) {
		for _, spec := range clientSpecs {
			t.Run(spec.name, func(t *testing.T) {
				t.Parallel()
				runClient(t, c.lb, spec)
			})
		}
	})
	t.Run("round-robin", c.checkSpread)
	t.Run("chunked-across-replicas", func(t *testing.T) { chunkedAcrossReplicas(t, c) })
	t.Run("tags-across-replicas", func(t *testing.T) { tagsAcrossReplicas(t, c) })
	t.Run("hammer", func(t *testing.T) { hammer(t, c) })
	t.Run("kill-during-upload", func(t *testing.T) { killDuringUpload(t, c) })
}

// replicaProbe talks to one replica directly, around HAProxy.
func replicaProbe(p *proc) *probe {
	return &probe{base: p.base, client: &http.Client{Timeout: time.Minute}}
}

// upload is a blob upload session driven by hand over HTTP.
type upload struct {
	t        *testing.T
	repo     string
	location string // the session's path, from the last Location
}

// startUpload opens a session through p.
func startUpload(t *testing.T, p *probe, repo string) *upload {
	t.Helper()
	res, err := p.do("POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if err != nil || res.status != http.StatusAccepted {
		t.Fatalf("POST upload through %s: %d %v %s", p.base, res.status, err, res.body)
	}
	return &upload{t: t, repo: repo, location: res.header.Get("Location")}
}

// patch sends chunk at offset through p and requires the 202 to
// acknowledge every byte so far.
func (u *upload) patch(p *probe, offset int64, chunk []byte) {
	u.t.Helper()
	end := offset + int64(len(chunk))
	res, err := p.do("PATCH", u.location, map[string]string{
		"Content-Type":  "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", offset, end-1),
	}, chunk)
	if err != nil || res.status != http.StatusAccepted {
		u.t.Fatalf("PATCH %d bytes at %d through %s: %d %v %s", len(chunk), offset, p.base, res.status, err, res.body)
	}
	if got, want := res.header.Get("Range"), fmt.Sprintf("0-%d", end-1); got != want {
		u.t.Fatalf("PATCH through %s acknowledged Range %q, want %q", p.base, got, want)
	}
	u.location = res.header.Get("Location")
}

// offset asks the session for the bytes it holds (spec: "Resuming an
// upload": 204 with Range 0-<last>).
func (u *upload) offset(p *probe) int64 {
	u.t.Helper()
	res, err := p.do("GET", u.location, nil, nil)
	if err != nil || res.status != http.StatusNoContent {
		u.t.Fatalf("GET upload through %s: %d %v %s", p.base, res.status, err, res.body)
	}
	_, last, ok := strings.Cut(res.header.Get("Range"), "-")
	n, err := strconv.ParseInt(last, 10, 64)
	if !ok || err != nil {
		u.t.Fatalf("GET upload: Range %q", res.header.Get("Range"))
	}
	return n + 1
}

// finish closes the session with the blob's digest through p.
func (u *upload) finish(p *probe, digest string) {
	u.t.Helper()
	sep := "?"
	if strings.Contains(u.location, "?") {
		sep = "&"
	}
	res, err := p.do("PUT", u.location+sep+"digest="+digest, nil, nil)
	if err != nil || res.status != http.StatusCreated {
		u.t.Fatalf("PUT upload through %s: %d %v %s", p.base, res.status, err, res.body)
	}
}

// expectBlob requires every replica, and HAProxy, to serve blob b.
func (c *cluster) expectBlob(t *testing.T, repo string, b []byte) {
	t.Helper()
	bases := []string{c.lb.base}
	for _, p := range c.replicas {
		bases = append(bases, p.base)
	}
	for _, base := range bases {
		code, got := call(t, "GET", base+"/v2/"+repo+"/blobs/"+digestOf(b), nil)
		if code != http.StatusOK || !bytes.Equal(got, b) {
			t.Errorf("blob through %s: %d, %d bytes, %s; want %d bytes %s", base, code, len(got), digestOf(got), len(b), digestOf(b))
		}
	}
}

// chunkedAcrossReplicas opens a session on one replica, sends each chunk
// to the next one and finishes on yet another: the session's state lives
// in the shared stores, not in a process. Chunks are smaller than an S3
// part, so each is kept as a tail object between requests.
func chunkedAcrossReplicas(t *testing.T, c *cluster) {
	repo := "replicas/" + runID + "/chunked"
	data := make([]byte, 3<<20+12345)
	_, _ = rand.Read(data)
	probes := []*probe{replicaProbe(c.replicas[0]), replicaProbe(c.replicas[1]), replicaProbe(c.replicas[2])}
	u := startUpload(t, probes[0], repo)
	const chunk = 1 << 20
	req := 1
	for off := 0; off < len(data); off += chunk {
		u.patch(probes[req%len(probes)], int64(off), data[off:min(off+chunk, len(data))])
		req++
	}
	if got := u.offset(probes[req%len(probes)]); got != int64(len(data)) {
		t.Fatalf("session holds %d bytes, want %d", got, len(data))
	}
	req++
	u.finish(probes[req%len(probes)], digestOf(data))
	c.expectBlob(t, repo, data)
}

// tagsAcrossReplicas lists a repository's tags on every replica (so each
// has the list cached), pushes a tag through one, and requires the next
// listing on every other to include it at once: no waiting, no retry.
func tagsAcrossReplicas(t *testing.T, c *cluster) {
	repo := "replicas/" + runID + "/tags"
	list := func(p *proc) []string {
		t.Helper()
		tags, err := newProbe(&registry{base: p.base}).tags(repo)
		if err != nil {
			t.Fatal(err)
		}
		return tags
	}
	var want []string
	for i := range 6 {
		tag := fmt.Sprintf("v%d", i)
		writer := c.replicas[i%len(c.replicas)]
		if _, code, err := pushImage(writer.base, repo, tag); err != nil || code != http.StatusCreated {
			t.Fatalf("push %s through replica %d: %d %v", tag, i%len(c.replicas)+1, code, err)
		}
		want = append(want, tag)
		for j, p := range c.replicas {
			if got := list(p); !slices.Equal(got, want) {
				t.Fatalf("after %s was pushed through replica %d, replica %d lists %v, want %v", tag, i%len(c.replicas)+1, j+1, got, want)
			}
		}
	}
}

// hammer pushes images from many clients through HAProxy onto a few
// shared tags, each client also retagging what it pushed onto another
// shared tag, so that the replicas' transactions on the same tags
// collide. Afterwards every tag names a manifest some client was told
// was stored, every acknowledged manifest is there, and every blob of
// each is served with its digest.
func hammer(t *testing.T, c *cluster) {
	repos := []string{"replicas/" + runID + "/hammer-a", "replicas/" + runID + "/hammer-b"}
	tags := []string{"latest", "stable", "main"}
	const clients, rounds = 12, 4
	var mu sync.Mutex
	acked := map[string]image{}            // by manifest digest
	tagged := map[string]map[string]bool{} // repo:tag → acknowledged digests
	record := func(i image) {
		mu.Lock()
		defer mu.Unlock()
		acked[i.manifest] = i
		if tagged[i.ref()] == nil {
			tagged[i.ref()] = map[string]bool{}
		}
		tagged[i.ref()][i.manifest] = true
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds*2)
	for w := range clients {
		wg.Go(func() {
			for r := range rounds {
				repo := repos[(w+r)%len(repos)]
				tag := tags[(w+r)%len(tags)]
				img, code, err := pushImage(c.lb.base, repo, tag)
				if err != nil || code != http.StatusCreated {
					errs <- fmt.Errorf("push %s:%s: %d %v", repo, tag, code, err)
					continue
				}
				record(img)
				retag := tags[(w+r+1)%len(tags)]
				if err := putTag(c.lb.base, repo, img.manifest, retag); err != nil {
					errs <- err
					continue
				}
				img.tag = retag
				record(img)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, i := range acked {
		byDigest := i
		byDigest.tag = i.manifest
		verifyImage(t, c.lb.base, byDigest)
	}
	for _, repo := range repos {
		for _, tag := range tags {
			ref := repo + ":" + tag
			if len(tagged[ref]) == 0 {
				continue
			}
			d, err := newProbe(c.lb).manifestDigest(repo, tag)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			if !tagged[ref][d] {
				t.Errorf("%s names %s, which no client was told was stored under it", ref, d)
			}
		}
	}
	t.Logf("%d manifests acknowledged, %d tags checked", len(acked), len(tagged))
}

// putTag fetches manifest d of repo and puts it under tag.
func putTag(base, repo, d, tag string) error {
	req, _ := http.NewRequest("GET", base+"/v2/"+repo+"/manifests/"+d, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	m, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s@%s: %d %v", repo, d, res.StatusCode, err)
	}
	req, _ = http.NewRequest("PUT", base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("retag %s@%s as %s: %d", repo, d, tag, res.StatusCode)
	}
	return nil
}

// killDuringUpload acknowledges a first chunk of an upload, streams the
// rest through HAProxy, SIGKILLs the replica serving that stream while
// it runs, then resumes the way the spec says a client does, through
// HAProxy: GET the session for its offset, PATCH from there, PUT. The
// blob must come out whole, and the session must have kept at least the
// acknowledged chunk.
func killDuringUpload(t *testing.T, c *cluster) {
	repo := "replicas/" + runID + "/killed"
	data := make([]byte, 24<<20)
	_, _ = rand.Read(data)
	lb := newProbe(c.lb)
	u := startUpload(t, lb, repo)
	const acked = 6 << 20
	u.patch(lb, 0, data[:acked])

	// The stream: 8 MiB more, then it stalls until the replica is gone.
	pr, pw := io.Pipe()
	streamed := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", c.lb.base+u.location, pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusAccepted {
				err = errors.New("the interrupted stream was acknowledged")
			}
		}
		streamed <- err
	}()
	if _, err := pw.Write(data[acked : acked+8<<20]); err != nil {
		t.Fatal(err)
	}
	victim := c.serving(t)
	t.Logf("replica %d serves the stream: SIGKILL", victim+1)
	p := c.replicas[victim]
	_ = p.cmd.Process.Kill()
	<-p.exited
	_ = pw.CloseWithError(errors.New("replica killed"))
	if err := <-streamed; err != nil && strings.Contains(err.Error(), "acknowledged") {
		t.Fatal(err)
	}
	c.await(t, victim, "DOWN")

	off := u.offset(lb)
	if off < acked || off > int64(len(data)) {
		t.Fatalf("after the kill the session holds %d bytes; %d were acknowledged", off, acked)
	}
	t.Logf("resuming at %d of %d bytes (%d acknowledged before the kill)", off, len(data), acked)
	u.patch(lb, off, data[off:])
	u.finish(lb, digestOf(data))
	code, got := call(t, "GET", c.lb.base+"/v2/"+repo+"/blobs/"+digestOf(data), nil)
	if code != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("resumed blob: %d, %s; want %s", code, digestOf(got), digestOf(data))
	}
}

// serving is the replica HAProxy is passing a request to right now.
func (c *cluster) serving(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(lbTimeout)
	for {
		for i, s := range c.servers(t) {
			if s.Current > 0 {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica serves the stream after %s", lbTimeout)
		}
		time.Sleep(20 * time.Millisecond) // polling HAProxy's observable state, bounded above
	}
}
