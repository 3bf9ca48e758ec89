package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"syscall"
	"testing"
)

// The disk-full test's pushes and its ledger of what the server
// acknowledged (diskfull_test.go).

// postBlob pushes b to repo as one monolithic upload. A body refused
// before it was read ends with the connection closed, which the client
// may see before the answer: that is a 507 too (nothing was acknowledged
// either way).
func postBlob(base, repo string, b []byte) (int, error) {
	res, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), "application/octet-stream", bytes.NewReader(b))
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return http.StatusInsufficientStorage, nil
	}
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode, nil
}

// image is one acknowledged push.
type image struct {
	repo, tag string
	manifest  string   // digest
	blobs     []string // digests
	size      int64    // of the blobs
}

func (i image) ref() string { return i.repo + ":" + i.tag }

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushImage pushes a config and one random layer of 256 KiB to 2 MiB as
// monolithic uploads, then the manifest by tag. It returns the first
// non-2xx status, or 201 when the manifest was acknowledged.
func pushImage(base, repo, tag string) (image, int, error) {
	layer := make([]byte, 256<<10+mrand.IntN(1792<<10))
	_, _ = rand.Read(layer)
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","tag":%q}`, repo+":"+tag)
	img := image{repo: repo, tag: tag}
	for _, b := range [][]byte{cfg, layer} {
		code, err := postBlob(base, repo, b)
		if err != nil || code != http.StatusCreated {
			return img, code, err
		}
		img.blobs = append(img.blobs, digestOf(b))
		img.size += int64(len(b))
	}
	m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		img.blobs[0], len(cfg), img.blobs[1], len(layer))
	req, _ := http.NewRequest("PUT", base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return img, 0, err
	}
	_ = res.Body.Close()
	img.manifest = digestOf(m)
	return img, res.StatusCode, nil
}

// ledger is every push the server acknowledged and did not see deleted.
type ledger struct {
	mu     sync.Mutex
	images map[string]image
}

func (l *ledger) add(i image) { l.mu.Lock(); l.images[i.ref()] = i; l.mu.Unlock() }

func (l *ledger) list() []image {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]image, 0, len(l.images))
	for _, i := range l.images {
		out = append(out, i)
	}
	return out
}

// deleteSome deletes images by manifest digest, in random order, until
// their blobs add up to bytes, so that GC can collect them.
func (l *ledger) deleteSome(t *testing.T, base string, bytes int64) {
	t.Helper()
	for _, i := range l.list() {
		if bytes <= 0 {
			return
		}
		bytes -= i.size
		code, body := call(t, "DELETE", base+"/v2/"+i.repo+"/manifests/"+i.manifest, nil)
		if code != http.StatusAccepted {
			t.Fatalf("delete %s: %d %s", i.ref(), code, body)
		}
		l.mu.Lock()
		delete(l.images, i.ref())
		l.mu.Unlock()
	}
}

func (l *ledger) verifyAll(t *testing.T, base string) {
	t.Helper()
	for _, i := range l.list() {
		verifyImage(t, base, i)
	}
}

func (l *ledger) verifySome(t *testing.T, base string, n int) {
	t.Helper()
	all := l.list()
	for range min(n, len(all)) {
		verifyImage(t, base, all[mrand.IntN(len(all))])
	}
}

// verifyImage pulls an acknowledged image by tag and checks every byte
// against its digests.
func verifyImage(t *testing.T, base string, i image) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v2/"+i.repo+"/manifests/"+i.tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || digestOf(m) != i.manifest {
		t.Fatalf("acknowledged %s: %d, manifest %s, want %s", i.ref(), res.StatusCode, digestOf(m), i.manifest)
	}
	for _, d := range i.blobs {
		code, b := call(t, "GET", base+"/v2/"+i.repo+"/blobs/"+d, nil)
		if code != http.StatusOK || digestOf(b) != d {
			t.Fatalf("acknowledged %s: blob %s answered %d with %s", i.ref(), d, code, digestOf(b))
		}
	}
}
