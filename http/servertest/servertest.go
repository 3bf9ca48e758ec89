package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp/fasthttputil"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobstoretest"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// testRegistry is a real server (real Badger on disk, real blob files)
// served over an in-memory listener and spoken to with net/http, so tests
// see exactly the bytes a client would.
type testRegistry struct {
	t      *testing.T
	dial   func() (net.Conn, error) // a raw connection to the server
	client *http.Client
	srv    *Server
	reg    *engine.Registry
	dir    string
}

func newTestRegistry(t *testing.T, o engine.Options) *testRegistry {
	t.Helper()
	dir, store, blobs := openTestStores(t)
	return serveTestRegistry(t, dir, store, blobs, o, nil)
}

// openTestStores opens a real Badger store and blob store in a temporary
// directory.
func openTestStores(t *testing.T) (string, *kv.Badger, *blobstore.FS) {
	t.Helper()
	dir := t.TempDir()
	barrier := blobstoretest.Barrier(t, dir)
	store, err := kv.Open(kv.Options{Dir: dir + "/meta", Barrier: barrier.Waiter()})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.Open(dir, barrier)
	if err != nil {
		t.Fatal(err)
	}
	return dir, store, blobs
}

// serveTestRegistry serves a registry over the stores on an in-memory
// listener and shuts everything down, in order, when the test ends.
// configure, when not nil, sets the server's Options (auth, metrics,
// readiness); without it the registry is anonymous.
func serveTestRegistry(t *testing.T, dir string, store *kv.Badger, blobs *blobstore.FS, o engine.Options, configure func(*engine.Registry, *Options)) *testRegistry {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	return serveTestRegistryOn(t, ln, ln.Dial, dir, store, blobs, o, configure)
}

// serveTestRegistryOn is serveTestRegistry on ln, which dial reaches.
func serveTestRegistryOn(t *testing.T, ln net.Listener, dial func() (net.Conn, error), dir string, store *kv.Badger, blobs *blobstore.FS,
	o engine.Options, configure func(*engine.Registry, *Options)) *testRegistry {
	t.Helper()
	if o.Streamer == nil {
		// Uploads stream through a pool as in mcrsrv serve, with few
		// workers so the tests also cross the pipeline's handoffs.
		pool := jobs.NewPool(4, 64)
		t.Cleanup(pool.Close)
		o.Streamer = pool
	}
	reg := engine.New(store, blobs, o)
	so := Options{ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute, Concurrency: 1024}
	if configure != nil {
		configure(reg, &so)
	}
	srv := New(reg, zerolog.Nop(), so)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tr := &testRegistry{
		t:    t,
		dial: dial,
		srv:  srv,
		reg:  reg,
		dir:  dir,
		client: &http.Client{
			Transport: &http.Transport{
				DialContext:         func(context.Context, string, string) (net.Conn, error) { return dial() },
				MaxIdleConnsPerHost: 64,
			},
			// Redirects are answers under test, never followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr.client.CloseIdleConnections()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
		if err := reg.Close(ctx); err != nil {
			t.Errorf("close registry: %v", err)
		}
		_ = store.Close()
	})
	return tr
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) code() string {
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	_ = json.Unmarshal(r.body, &e)
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// do sends a request; hdr alternates header names and values.
func (tr *testRegistry) do(method, path string, body []byte, hdr ...string) resp {
	tr.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://registry.test"+path, rd)
	if err != nil {
		tr.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := tr.client.Do(req)
	if err != nil {
		tr.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tr.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// expect fails the test unless r has the status (and OCI code, when not
// empty).
func (tr *testRegistry) expect(r resp, status int, code string, what string) {
	tr.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		tr.t.Errorf("%s: got %d %q (%s), want %d %s", what, r.status, r.code(), truncate(r.body), status, code)
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// pushBlob uploads data monolithically and returns its digest.
func (tr *testRegistry) pushBlob(repo string, data []byte) digest.Digest {
	tr.t.Helper()
	d := digest.FromBytes(data)
	r := tr.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data, "Content-Type", "application/octet-stream")
	tr.expect(r, 201, "", "push blob")
	return d
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// image builds a config and layers, pushes them to repo, and returns the
// manifest bytes (not pushed).
func (tr *testRegistry) image(repo string, layers int, extra string) []byte {
	tr.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"` + digest.FromBytes(randomBytes(8)).Encoded() + `"}`)
	cd := tr.pushBlob(repo, cfg)
	var ls []string
	for range layers {
		data := randomBytes(1000)
		d := tr.pushBlob(repo, data)
		ls = append(ls, `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"`+d.String()+`","size":1000}`)
	}
	return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cd.String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[` + strings.Join(ls, ",") + `]` + extra + `}`)
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"
const ociIndex = "application/vnd.oci.image.index.v1+json"

func (tr *testRegistry) putManifest(repo, ref string, body []byte, mediaType string) resp {
	tr.t.Helper()
	return tr.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType)
}

// stagingFiles lists what is left in the uploads directory.
func stagingFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
