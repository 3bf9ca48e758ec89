package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
)

// pacedBody is size pseudo-random bytes (the same for the same seed),
// written no faster than rate bytes a second, counting what was sent.
type pacedBody struct {
	src   *rand.ChaCha8
	left  int64
	rate  int64
	start time.Time
	sent  atomic.Int64
}

func newPacedBody(seed byte, size, rate int64) *pacedBody {
	return &pacedBody{src: rand.NewChaCha8([32]byte{seed}), left: size, rate: rate}
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.start.IsZero() {
		b.start = time.Now()
	}
	p = p[:min(int64(len(p)), b.left, 256<<10)]
	// Pacing, not waiting for an event: the body is a client on a link of
	// the given rate.
	if ahead := time.Duration(b.sent.Load()*int64(time.Second)/b.rate) - time.Since(b.start); ahead > 0 {
		time.Sleep(ahead)
	}
	n, _ := b.src.Read(p)
	b.left -= int64(n)
	b.sent.Add(int64(n))
	return n, nil
}

// digestOfPaced is the digest of newPacedBody(seed, size, _).
func digestOfPaced(seed byte, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(rand.NewChaCha8([32]byte{seed}), size))
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

// upload is a monolithic blob push in flight.
type upload struct {
	body *pacedBody
	done chan uploadResult
}

type uploadResult struct {
	status int
	digest string
	err    error
}

func startUpload(base, repo, dgst string, body *pacedBody, size int64) *upload {
	u := &upload{body: body, done: make(chan uploadResult, 1)}
	go func() {
		req, err := http.NewRequest("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+dgst, body)
		if err != nil {
			u.done <- uploadResult{err: err}
			return
		}
		req.ContentLength = size
		res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			u.done <- uploadResult{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		u.done <- uploadResult{status: res.StatusCode, digest: res.Header.Get("Docker-Content-Digest")}
	}()
	return u
}

// waitSent waits until the upload has sent n bytes.
func (u *upload) waitSent(t *testing.T, n int64) {
	t.Helper()
	wait.For(t, fmt.Sprintf("the upload to send %d bytes", n), func() bool { return u.body.sent.Load() >= n })
}

// stopAndTime sends SIGTERM and returns how long the process took to
// stop, failing unless it exits 0 and stopped within limit. A server that
// logs at info level reports how long its stop took from the moment it
// took the signal ("stopped", took): the part http.shutdown_timeout
// bounds, so the test holds it to what it configured. How long a loaded
// machine takes to deliver the signal, and then to close the stores and
// reap the process, is not that bound (past a load average of 40 the
// whole overran a 2 s slack); it is held to limit + 10 s. A server logging
// at warn is timed from the signal to its exit.
func stopAndTime(t *testing.T, srv *child, limit time.Duration, during func()) time.Duration {
	t.Helper()
	exited := make(chan error, 1)
	signalled := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() { exited <- srv.cmd.Wait() }()
	if during != nil {
		during()
	}
	select {
	case err := <-exited:
		took, whole := time.Since(signalled), time.Since(signalled)
		if own, ok := stopTook(t, srv); ok {
			took = own
		}
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, srv.log)
		}
		if took > limit {
			t.Errorf("stopped %s after SIGTERM, want within %s", took, limit)
		}
		t.Logf("stop: %s by the server's clock, exit %s after the signal", took.Round(time.Millisecond), whole.Round(time.Millisecond))
		return took
	case <-time.After(limit + 10*time.Second):
		_ = srv.cmd.Process.Kill()
		t.Fatalf("still running %s after SIGTERM\n%s", limit+10*time.Second, srv.log)
		return 0
	}
}

// stopTook is the duration of the server's "stopped" line, if it logged
// one.
func stopTook(t *testing.T, srv *child) (time.Duration, bool) {
	t.Helper()
	for _, line := range strings.Split(srv.log.String(), "\n") {
		var l struct {
			Message string  `json:"message"`
			Took    float64 `json:"took"` // milliseconds (zerolog's Dur)
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "stopped" {
			return time.Duration(l.Took * float64(time.Millisecond)), true
		}
	}
	return 0, false
}

func readyzStatus(base string) int {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		return 0
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// TestShutdownFinishesUploads streams a 300 MB upload at 40 MB/s and sends
// SIGTERM in the middle of its body: /readyz turns 503 for the drain (2 s), the
// upload still ends 201 with its digest, the process stops within
// http.shutdown_timeout + 2 s of taking the signal and exits 0, and after
// a restart the blob is there.
func TestShutdownFinishesUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const (
		size    = 300 << 20
		rate    = 40 << 20
		timeout = 15 * time.Second
	)
	data := t.TempDir()
	srv := startServer(t, data, freePort(t), "MCR_HTTP_SHUTDOWN_TIMEOUT="+timeout.String(), "MCR_HTTP_DRAIN=2s", "MCR_LOG_LEVEL=info")
	base := "http://" + srv.addr
	dgst := digestOfPaced(1, size)
	up := startUpload(base, "shut/down", dgst, newPacedBody(1, size, rate), size)
	up.waitSent(t, 40<<20)
	took := stopAndTime(t, srv, timeout+2*time.Second, func() {
		// The drain: the listener is open, readiness fails as soon as
		// the process has handled the signal.
		deadline := time.Now().Add(1500 * time.Millisecond)
		st := readyzStatus(base)
		for st == http.StatusOK && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			st = readyzStatus(base)
		}
		if st != http.StatusServiceUnavailable {
			t.Errorf("/readyz during the drain: %d, want 503", st)
		}
		r := <-up.done
		if r.err != nil || r.status != http.StatusCreated || r.digest != dgst {
			t.Errorf("upload across SIGTERM: %d %s %v, want 201 %s", r.status, r.digest, r.err, dgst)
		}
	})
	t.Logf("300 MB upload finished across SIGTERM; stopped %s after taking the signal", took.Round(time.Millisecond))

	srv = startServer(t, data, freePort(t))
	res, err := http.Head("http://" + srv.addr + "/v2/shut/down/blobs/" + dgst)
	if err != nil || res.StatusCode != 200 || res.ContentLength != size {
		t.Errorf("the blob after a restart: %v %v", res, err)
	}
	stopAndTime(t, srv, 30*time.Second, nil)
}

// TestShutdownCutsSlowUpload: an upload too slow to finish within
// http.shutdown_timeout is cut off at its end: the client sees its
// connection closed (no 500), and the process exits on time.
func TestShutdownCutsSlowUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const timeout = 3 * time.Second
	srv := startServer(t, t.TempDir(), freePort(t), "MCR_HTTP_SHUTDOWN_TIMEOUT="+timeout.String(), "MCR_LOG_LEVEL=info")
	const size = 100 << 20
	up := startUpload("http://"+srv.addr, "shut/slow", digestOfPaced(2, size), newPacedBody(2, size, 1<<20), size)
	up.waitSent(t, 1<<20)
	took := stopAndTime(t, srv, timeout+2*time.Second, nil)
	r := <-up.done
	if r.err == nil {
		t.Errorf("the cut-off upload got an answer: %d, want a closed connection", r.status)
	}
	t.Logf("slow upload cut off (%v); stopped %s after taking the signal", r.err, took.Round(time.Millisecond))
}

// TestSystemdNotify: with NOTIFY_SOCKET set (a path, or a name in the
// abstract namespace), mcrsrv sends READY=1 once it serves and STOPPING=1
// when SIGTERM arrives.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify.sock"),
		fmt.Sprintf("@mcr-notify-test-%d", os.Getpid()),
	} {
		t.Run(strings.TrimPrefix(filepath.Base(name), "@"), func(t *testing.T) {
			sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			srv := startServer(t, t.TempDir(), freePort(t), "NOTIFY_SOCKET="+name)
			expectNotify(t, sock, "READY=1")
			stopAndTime(t, srv, 30*time.Second, func() { expectNotify(t, sock, "STOPPING=1") })
		})
	}
}

func expectNotify(t *testing.T, sock *net.UnixConn, want string) {
	t.Helper()
	_ = sock.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 256)
	n, err := sock.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("no %s from mcrsrv", want)
	}
	if err != nil || string(buf[:n]) != want {
		t.Fatalf("notification %q, %v; want %s", buf[:n], err, want)
	}
}

// TestStopsWithDataDirGone: a data directory deleted under a running
// server, where Badger then retries its memtable flush forever, does not
// keep the server from stopping: it exits 1 within storeCloseTimeout of the
// rest of its stop and says why. Without the bound it never exits.
func TestStopsWithDataDirGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const timeout = 2 * time.Second
	data := t.TempDir()
	srv := startServer(t, data, freePort(t), "MCR_HTTP_SHUTDOWN_TIMEOUT="+timeout.String(), "MCR_HTTP_DRAIN=0s")
	// A blob's record, so the memtable has something to flush.
	const size = 1 << 10
	up := startUpload("http://"+srv.addr, "gone/data", digestOfPaced(3, size), newPacedBody(3, size, 1<<20), size)
	if r := <-up.done; r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("upload: %d %v\n%s", r.status, r.err, srv.log)
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	signalled := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() { exited <- srv.cmd.Wait() }()
	limit := timeout + stopGrace + storeCloseTimeout + 10*time.Second
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("exit: %v, want status 1\n%s", err, srv.log)
		}
		if !strings.Contains(srv.log.String(), "did not close within") {
			t.Errorf("the log does not say why it exited without closing the store:\n%s", srv.log)
		}
		t.Logf("exited %s after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	case <-time.After(limit):
		_ = srv.cmd.Process.Kill()
		t.Fatalf("still running %s after SIGTERM\n%s", limit, srv.log)
	}
}
