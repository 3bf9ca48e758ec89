package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// digestOf is the sha256 digest of b.
func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// basic sends one request to the registry with the credentials of user.
func basic(t *testing.T, user, pw, method, u, contentType string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// openSession starts an upload session in repo as the admin and returns
// its absolute URL.
func openSession(t *testing.T, repo string) *url.URL {
	t.Helper()
	resp := basic(t, "admin", adminPW, http.MethodPost, srv.base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST upload: %s", resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "http", Host: srv.base[len("http://"):]}).ResolveReference(loc)
}

// pushBlob uploads b to repo (POST then PUT with the digest, OCI
// distribution spec "Pushing a blob in chunks" with one chunk).
func pushBlob(t *testing.T, repo string, b []byte) string {
	t.Helper()
	loc := openSession(t, repo)
	d := digestOf(b)
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	resp := basic(t, "admin", adminPW, http.MethodPut, loc.String(), "application/octet-stream", b)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT blob: %s %s", resp.Status, body)
	}
	return d
}

// pushImage pushes an image of one layer holding content to repo:tag and
// returns the manifest's digest and the layer's.
func pushImage(t *testing.T, repo, tag, content string) (string, string) {
	t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":%q}`, content))
	layer := []byte(content)
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m, err := json.Marshal(struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{
		SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: desc{"application/vnd.oci.image.config.v1+json", pushBlob(t, repo, cfg), len(cfg)},
		Layers: []desc{{"application/vnd.oci.image.layer.v1.tar", pushBlob(t, repo, layer), len(layer)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp := basic(t, "admin", adminPW, http.MethodPut, srv.base+"/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", m)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: %s %s", resp.Status, body)
	}
	return digestOf(m), digestOf(layer)
}
