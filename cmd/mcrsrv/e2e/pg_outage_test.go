package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestPostgresOutage stops PostgreSQL (a server of the test's own) under
// a stream of pushes and pulls, with the blobs in S3, which stays up, and
// then PostgreSQL and S3 together:
// every request that needs the metadata is answered 503 UNAVAILABLE with
// Retry-After, promptly (never a 500, never a hang), /readyz is 503,
// nothing acknowledged before is lost and nothing refused during the
// outage exists afterwards; once PostgreSQL is back the server serves
// again by itself (the connection pool reconnects).
func TestPostgresOutage(t *testing.T) {
	requireE2E(t)
	pg := pgtest.Private(t)
	db, err := pg.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s3 := s3test.Start(t)
	cfg := s3.Bucket(t, "pg-outage")
	reg := startRegistry(t, append(storageEnv(cfg, false),
		"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN="+pg.DSN(db))...)
	// An answer must come well inside a client's patience: the outage is
	// reported, not waited out.
	p := &probe{base: reg.base, client: reg.client(30 * time.Second)}
	const repo = "pgoutage/app"
	acked := &ledger{images: map[string]image{}}
	for i := range 3 {
		img, code, err := pushImage(reg.base, repo, fmt.Sprintf("before-%d", i))
		if err != nil || code != http.StatusCreated {
			t.Fatalf("push before the outage: %d, %v", code, err)
		}
		acked.add(img)
	}
	stored := acked.list()[0]

	// PostgreSQL alone, then PostgreSQL and S3 together.
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	refused := outageLoad(t, p, metadataRequests(repo, stored))
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	awaitReady(t, p, "PostgreSQL")
	checkRefused(t, p, repo, refused)
	acked.verifyAll(t, reg.base)

	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	s3.Stop()
	refused = outageLoad(t, p, metadataRequests(repo, stored))
	s3.Restart(t)
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	awaitReady(t, p, "PostgreSQL and S3")
	checkRefused(t, p, repo, refused)
	acked.verifyAll(t, reg.base)

	img, code, err := pushImage(reg.base, repo, "after")
	if err != nil || code != http.StatusCreated {
		t.Fatalf("push after the outage: %d, %v", code, err)
	}
	verifyImage(t, reg.base, img)
}

// outageRequest is one request of outageLoad.
type outageRequest struct {
	method, path string
	header       map[string]string
	body         []byte
}

// outageLoad runs, from 4 concurrent clients, 4 rounds each of the
// requests reqs makes for a fresh random blob, against a registry a store
// of which is down, and checks every answer is the 503 of a store that
// went away, and /readyz too. It returns the blobs of every round: the
// outage refused them all.
func outageLoad(t *testing.T, p *probe, reqs func(blob []byte) []outageRequest) [][]byte {
	t.Helper()
	const workers, each = 4, 4
	type answer struct {
		method string
		r      response
	}
	var wg sync.WaitGroup
	results := make(chan answer, 64*workers*each)
	refused := make(chan []byte, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				b := randomBytes(t, 32<<10)
				for _, rq := range reqs(b) {
					r, err := p.do(rq.method, rq.path, rq.header, rq.body)
					if err != nil {
						t.Errorf("%s %s during the outage: %v", rq.method, rq.path, err)
						return
					}
					results <- answer{rq.method, r}
				}
				refused <- b
			}
		})
	}
	wg.Wait()
	close(results)
	close(refused)
	n := 0
	for a := range results {
		n++
		switch {
		case a.method != http.MethodHead:
			expectUnavailable(t, a.r)
		case a.r.status != http.StatusServiceUnavailable || a.r.header.Get("Retry-After") == "":
			// A HEAD answer has no body to carry the OCI code.
			t.Errorf("HEAD during the outage: %d %v; want 503 with Retry-After", a.r.status, a.r.header)
		}
	}
	if want := workers * each * len(reqs(nil)); n != want {
		t.Fatalf("%d answers during the outage, want %d", n, want)
	}
	if r, err := p.do(http.MethodGet, "/readyz", nil, nil); err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d, %v; want 503", r.status, err)
	}
	var out [][]byte
	for b := range refused {
		out = append(out, b)
	}
	return out
}

// metadataRequests are outageLoad's requests while the metadata store is
// down: a blob push, a manifest push, a pull by tag, a blob HEAD.
func metadataRequests(repo string, stored image) func([]byte) []outageRequest {
	return func(b []byte) []outageRequest {
		return []outageRequest{
			{method: http.MethodPost, path: fmt.Sprintf("/v2/%s/blobs/uploads/?digest=%s", repo, sha256Digest(b)), body: b},
			{method: http.MethodPut, path: fmt.Sprintf("/v2/%s/manifests/during", repo), header: map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
				body: fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, sha256Digest(b), len(b))},
			{method: http.MethodGet, path: fmt.Sprintf("/v2/%s/manifests/%s", repo, stored.tag), header: map[string]string{"Accept": manifestAccept}},
			{method: http.MethodHead, path: fmt.Sprintf("/v2/%s/blobs/%s", repo, stored.blobs[1])},
		}
	}
}

// awaitReady polls /readyz until it is 200, for a minute at most, once
// what went away is back.
func awaitReady(t *testing.T, p *probe, back string) {
	t.Helper()
	wait.Within(t, time.Minute, "/readyz 200 after "+back+" came back", func() bool {
		r, err := p.do(http.MethodGet, "/readyz", nil, nil)
		return err == nil && r.status == http.StatusOK
	})
}

// checkRefused fails if anything refused during an outage was stored.
func checkRefused(t *testing.T, p *probe, repo string, refused [][]byte) {
	t.Helper()
	for _, b := range refused {
		if status, err := p.blobStatus(repo, sha256Digest(b)); err != nil || status != http.StatusNotFound {
			t.Fatalf("a blob refused during the outage: HEAD %d, %v; want 404", status, err)
		}
	}
	if status, err := p.manifestStatus(repo, "during"); err != nil || status != http.StatusNotFound {
		t.Fatalf("the manifest refused during the outage: HEAD %d, %v; want 404", status, err)
	}
}
