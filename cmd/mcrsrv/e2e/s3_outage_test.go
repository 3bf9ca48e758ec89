package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
)

// TestS3Outage stops the S3 server under a stream of pushes and pulls
// (metadata in PostgreSQL, which stays up):
// every request that needs the store is answered 503 UNAVAILABLE with a
// Retry-After, nothing is left half-written (a blob refused during the
// outage is unknown, not partial), /readyz is 503 meanwhile, and service
// comes back by itself once the store does.
func TestS3Outage(t *testing.T) {
	requireE2E(t)
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, "outage")
	reg := startRegistry(t, append(storageEnv(cfg, false), postgresEnv(t)...)...)
	p := newProbe(reg)
	const repo = "outage/app"
	before := randomBytes(t, 64<<10)
	push := func(b []byte) response {
		t.Helper()
		resp, err := p.do(http.MethodPost, fmt.Sprintf("/v2/%s/blobs/uploads/?digest=%s", repo, sha256Digest(b)),
			map[string]string{"Content-Type": "application/octet-stream"}, b)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := push(before); r.status != http.StatusCreated {
		t.Fatalf("push before the outage: %d %s", r.status, r.body)
	}

	srv.Stop()
	// Load during the outage: concurrent pushes of distinct blobs and
	// pulls of the stored one.
	refused := outageLoad(t, p, func(b []byte) []outageRequest {
		return []outageRequest{
			{method: http.MethodPost, path: fmt.Sprintf("/v2/%s/blobs/uploads/?digest=%s", repo, sha256Digest(b)), body: b},
			{method: http.MethodGet, path: fmt.Sprintf("/v2/%s/blobs/%s", repo, sha256Digest(before))},
		}
	})
	// HEAD is answered from the metadata record, without the store.
	if status, err := p.blobStatus(repo, sha256Digest(before)); err != nil || status != http.StatusOK {
		t.Fatalf("HEAD of a stored blob during the outage: %d, %v", status, err)
	}

	srv.Restart(t)
	awaitReady(t, p, "the store")
	checkRefused(t, p, repo, refused)
	after := randomBytes(t, 6<<20) // more than one part
	if r := push(after); r.status != http.StatusCreated {
		t.Fatalf("push after the outage: %d %s", r.status, r.body)
	}
	for _, b := range [][]byte{before, after} {
		got, err := p.get(repo, "blobs", sha256Digest(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("pull after the outage: %d bytes, %v", len(got), err)
		}
	}
}

// expectUnavailable checks r is the OCI 503 of a store that went away.
func expectUnavailable(t *testing.T, r response) {
	t.Helper()
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if r.status != http.StatusServiceUnavailable || json.Unmarshal(r.body, &body) != nil || len(body.Errors) != 1 ||
		body.Errors[0].Code != "UNAVAILABLE" || r.header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %d %v %s; want 503 UNAVAILABLE with Retry-After", r.status, r.header, r.body)
	}
}
