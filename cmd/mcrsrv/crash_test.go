package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestMain lets the test binary act as mcrsrv: the crash test starts it as
// a child process with MCRSRV_TEST_MAIN=1, so the server it kills is this
// very build (with the race detector when the tests have it).
func TestMain(m *testing.M) {
	if os.Getenv("MCRSRV_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m)) // stops the PostgreSQL server of the postgres tests
}

type child struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, data, addr string, env ...string) *child {
	t.Helper()
	c := &child{addr: addr, log: &bytes.Buffer{}}
	c.cmd = exec.Command(os.Args[0], "serve", "--data", data, "--addr", addr, "--auth", "none")
	c.cmd.Env = append(append(os.Environ(), "MCRSRV_TEST_MAIN=1", "MCR_LOG_LEVEL=warn"), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
			t.Fatalf("server did not come up: %v\n%s", err, c.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// acked is what the server acknowledged before it was killed.
type acked struct {
	mu        sync.Mutex
	blobs     map[string][]byte // digest → content
	manifests map[string]string // repo:tag → digest
}

func (a *acked) blob(d string, b []byte) { a.mu.Lock(); a.blobs[d] = b; a.mu.Unlock() }

func (a *acked) tags() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.manifests) }

// waitTag waits, bounded, until more than n tags are acknowledged: the
// random kill then falls in a round that did acknowledge something, even
// on a loaded machine where the first push is slow.
func (a *acked) waitTag(t *testing.T, n int) {
	t.Helper()
	wait.Within(t, time.Minute, fmt.Sprintf("a tag acknowledged past %d", n), func() bool { return a.tags() > n })
}

func (a *acked) tag(ref, d string) { a.mu.Lock(); a.manifests[ref] = d; a.mu.Unlock() }

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushLoop pushes blobs (monolithic and chunked) and manifests until the
// server dies, recording only what was acknowledged. With large > 0 every
// fourth layer has that many bytes (on S3: more than a part, so that the
// upload goes through a multipart upload).
func pushLoop(ctx context.Context, base string, w, large int, a *acked) {
	client := &http.Client{Timeout: 10 * time.Second}
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	do := func(method, url string, body []byte, hdr ...string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
		return res, err
	}
	for i := 0; ; i++ {
		repo := fmt.Sprintf("crash/r%d", w%3)
		size := 1000 + rng.IntN(300_000)
		if large > 0 && i%4 == 3 {
			size = large + rng.IntN(300_000)
		}
		layer := make([]byte, size)
		for j := range layer {
			layer[j] = byte(rng.Uint32())
		}
		ld := digestOf(layer)
		if i%2 == 0 {
			res, err := do("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+ld, layer)
			if err != nil {
				return
			}
			if res.StatusCode != 201 {
				continue
			}
		} else {
			res, err := do("POST", base+"/v2/"+repo+"/blobs/uploads/", nil)
			if err != nil || res.StatusCode != 202 {
				return
			}
			loc := base + res.Header.Get("Location")
			half := len(layer) / 2
			res, err = do("PATCH", loc, layer[:half], "Content-Range", "0-"+strconv.Itoa(half-1))
			if err != nil || res.StatusCode != 202 {
				return
			}
			res, err = do("PUT", loc+"?digest="+ld, layer[half:])
			if err != nil {
				return
			}
			if res.StatusCode != 201 {
				continue
			}
		}
		a.blob(ld, layer)
		cfg := []byte(fmt.Sprintf(`{"os":"linux","architecture":"amd64","w":%d,"i":%d}`, w, i))
		cd := digestOf(cfg)
		if res, err := do("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+cd, cfg); err != nil || res.StatusCode != 201 {
			return
		}
		a.blob(cd, cfg)
		m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
			cd, len(cfg), ld, len(layer)))
		tag := fmt.Sprintf("w%d-%d", w, i)
		res, err := do("PUT", base+"/v2/"+repo+"/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if err != nil {
			return
		}
		if res.StatusCode == 201 {
			a.tag(repo+":"+tag, digestOf(m))
		}
	}
}

// TestKillLosesNothingAcknowledged pushes from several clients, kills the
// server with SIGKILL at a random moment, restarts it on the same data and
// checks that every acknowledged blob and tag is there with the right
// bytes, and that start-up removed exactly the staging files and blob
// files the kill left that belong to nothing. Three rounds, each on the data the previous round left; in both
// storage.sync modes, since with group commit a commit is visible before
// it is acknowledged; with the metadata in PostgreSQL, where an
// acknowledged commit is the database's; and with the blobs in S3 as well
// (versitygw), where some layers go through multipart uploads and no
// multipart upload may outlive its session. On PostgreSQL and S3 together
// the stores are the replicas' shared ones, so start-up cleans nothing
// (startupCleanup in gc.go): there the test checks what the kills left is
// only what the leader's collections will remove, never an acknowledged
// write.
func TestKillLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	for _, mode := range []string{syncGroup, syncFile} {
		t.Run(mode, func(t *testing.T) { killAndVerify(t, killMode{env: []string{"MCR_STORAGE_SYNC=" + mode}}) })
	}
	t.Run("postgres", func(t *testing.T) {
		killAndVerify(t, killMode{env: postgresEnv(t)})
	})
	t.Run("s3+postgres", func(t *testing.T) {
		cfg := s3test.Start(t).Bucket(t, "mcr-crash")
		killAndVerify(t, killMode{env: append(postgresEnv(t), s3Env(cfg)...), large: s3store.MinPartSize + 1000, bucket: &cfg})
	})
}

// killMode is what a kill test runs on: the server's environment (which
// stores), the size of every fourth layer (0: all small), and the bucket
// of an S3 blob store.
type killMode struct {
	env    []string
	large  int
	bucket *s3store.Config
}

func postgresEnv(t *testing.T) []string {
	return []string{"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN=" + pgtest.Database(t)}
}

// s3Env puts the blobs in cfg's bucket, with the smallest part size S3
// takes, so that a few MiB are a multipart upload.
func s3Env(cfg s3store.Config) []string {
	return []string{"MCR_STORAGE_BACKEND=s3", "MCR_STORAGE_S3_ENDPOINT=" + cfg.Endpoint, "MCR_STORAGE_S3_BUCKET=" + cfg.Bucket,
		"MCR_STORAGE_S3_REGION=" + cfg.Region, "MCR_STORAGE_S3_ACCESS_KEY_ID=" + cfg.AccessKeyID,
		"MCR_STORAGE_S3_SECRET_ACCESS_KEY=" + cfg.SecretAccessKey, "MCR_STORAGE_S3_PART_SIZE=5MiB"}
}

func killAndVerify(t *testing.T, mode killMode) {
	env := mode.env
	data := t.TempDir()
	a := &acked{blobs: map[string][]byte{}, manifests: map[string]string{}}
	var left *crashState // what the last kill left on disk
	// shared: the stores are the replicas' (PostgreSQL and S3), where a
	// start-up must not clean what another replica may be writing.
	shared := mode.bucket != nil
	for round := range 3 {
		srv := startServer(t, data, freePort(t), env...)
		base := "http://" + srv.addr
		verify(t, base, a, round)
		logged := left != nil && !shared && checkStartupCleanup(t, *left, srv)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		tags := a.tags()
		for w := range 6 {
			wg.Go(func() { pushLoop(ctx, base, w+10*round, mode.large, a) })
		}
		a.waitTag(t, tags)
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := srv.cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("server exited with %v, want killed", err)
		}
		cancel()
		wg.Wait()
		if logged {
			checkCleanupLogged(t, srv)
		}
		st := readCrashState(t, data, env...)
		left = &st
		t.Logf("round %d: %d blobs and %d tags acknowledged so far; the kill left %d staging files for %d sessions and %d blob files for %d records",
			round, len(a.blobs), len(a.manifests), len(st.staging), len(st.sessions), len(st.files), len(st.records))
	}
	srv := startServer(t, data, freePort(t), env...)
	verify(t, "http://"+srv.addr, a, 3)
	logged := !shared && checkStartupCleanup(t, *left, srv)
	if len(a.manifests) == 0 {
		t.Fatal("no push was acknowledged before the kills: the test proved nothing")
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		t.Errorf("clean shutdown failed: %v\n%s", err, srv.log)
	}
	if logged {
		checkCleanupLogged(t, srv)
	}
	if mode.bucket != nil {
		checkMultiparts(t, *mode.bucket, readCrashState(t, data, env...))
	}
}

// checkMultiparts fails on a multipart upload in the bucket that no open
// upload session owns: after start-up and a clean stop, an acknowledged
// blob (whose session is gone) and a push the kills cut short leave none.
func checkMultiparts(t *testing.T, cfg s3store.Config, st crashState) {
	t.Helper()
	c := s3test.Client(cfg)
	in := &s3.ListMultipartUploadsInput{Bucket: &cfg.Bucket}
	n := 0
	for {
		out, err := c.ListMultipartUploads(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			n++
			id, _, _ := strings.Cut(strings.TrimPrefix(aws.ToString(u.Key), "uploads/"), "/")
			if _, open := st.sessions[id]; !open || !strings.HasPrefix(aws.ToString(u.Key), "uploads/") {
				t.Errorf("multipart upload at %s belongs to no open upload session", aws.ToString(u.Key))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	t.Logf("%d multipart uploads left, each of one of the %d open sessions", n, len(st.sessions))
}

func verify(t *testing.T, base string, a *acked, round int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for d, want := range a.blobs {
		// A blob was pushed to one of three repositories; find it in any.
		found := false
		for r := range 3 {
			res, err := http.Get(fmt.Sprintf("%s/v2/crash/r%d/blobs/%s", base, r, d))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				found = true
				if !bytes.Equal(got, want) {
					t.Errorf("round %d: blob %s has wrong content", round, d)
				}
				break
			}
		}
		if !found {
			t.Errorf("round %d: acknowledged blob %s is lost", round, d)
		}
	}
	for ref, d := range a.manifests {
		repo, tag, _ := bytes.Cut([]byte(ref), []byte(":"))
		res, err := http.Get(base + "/v2/" + string(repo) + "/manifests/" + string(tag))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 || digestOf(got) != d {
			t.Errorf("round %d: acknowledged tag %s: status %d, digest %s, want %s", round, ref, res.StatusCode, digestOf(got), d)
		}
	}
}
