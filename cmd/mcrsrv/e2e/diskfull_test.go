package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The disk-full test (docs/operations.md, "Disk space"): a real mcrsrv on
// a small ext4 filesystem of its own, filled by concurrent pushes again
// and again. It must never crash, answer every write past the floor with
// 507, keep serving reads, report the state on /readyz, restart on the
// full disk, take pushes again once deletes and GC free space, and keep
// every acknowledged push intact throughout.
const (
	diskFullSize   = 192 << 20
	diskFullCycles = 20
	fillWorkers    = 8
	// freePerCycle is what each cycle deletes: past the floor plus its
	// hysteresis (16 MiB), so that pushes are taken again.
	freePerCycle = 40 << 20
)

func TestDiskFull(t *testing.T) {
	requireE2E(t)
	mnt := loopFS(t, diskFullSize)
	data := filepath.Join(mnt, "data")
	env := []string{"MCR_LOG_LEVEL=warn", "MCR_GC_GRACE=1ms", "MCR_GC_INTERVAL=0s", "MCR_GC_DUTY=1", "MCR_GC_ORPHAN_INTERVAL=0s"}
	start := time.Now()
	srv := startProc(t, data, env)
	led := &ledger{images: map[string]image{}}

	var fillTime time.Duration
	var maxMeta int64
	for cycle := 1; cycle <= diskFullCycles; cycle++ {
		t0 := time.Now()
		n := fill(t, srv, led, cycle)
		t.Logf("cycle %d: filled in %.1fs", cycle, time.Since(t0).Seconds())
		if cycle == 1 {
			fillTime = time.Since(t0)
		}
		expectFull(t, srv, led)
		maxMeta = max(maxMeta, metaBytes(t, data))
		switch cycle % 4 {
		case 1: // SIGTERM on the full disk, and a restart on it
			srv.stop(t)
			srv = startProc(t, data, env)
			// The clean close may have given back a few blocks (Badger's
			// log files): fill whatever is left above the floor again.
			fill(t, srv, led, cycle)
			expectFull(t, srv, led)
			led.verifyAll(t, srv.base)
		case 2: // GC on the full disk, with nothing to collect
			srv.gc(t)
			expectFull(t, srv, led)
		}
		led.deleteSome(t, srv.base, freePerCycle)
		srv.gc(t)
		// ext4 counts the blocks of deleted files as free only when its
		// journal commits (every 5 s): commit now, so that the next fill
		// does not end at a floor that the pending frees then lift.
		run(t, "sync", "-f", mnt)
		expectPush(t, srv, led, cycle)
		if cycle%4 == 3 { // another process fills the disk
			filler := filepath.Join(mnt, "filler")
			ddFill(t, mnt, filler)
			expectFull(t, srv, led)
			srv.stop(t)
			srv = startProc(t, data, env)
			expectFull(t, srv, led)
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			expectPush(t, srv, led, cycle)
		}
		t.Logf("cycle %d: %d pushes acknowledged while filling, %d images kept, %.1fs", cycle, n, len(led.images), time.Since(t0).Seconds())
	}
	led.verifyAll(t, srv.base)
	srv.stop(t)

	// Something takes every block while mcr is stopped: the reserve it
	// left is released before Badger opens, and it starts and serves.
	fillAll(t, mnt, "filler")
	srv = startProc(t, data, env)
	expectFull(t, srv, led)
	led.verifyAll(t, srv.base)
	srv.stop(t)
	// Then the reserve's space too: mcr refuses to start with a message
	// instead of faulting in Badger's Open, and starts once space is
	// freed.
	fillAll(t, mnt, "filler2")
	refuseToStart(t, data, env)
	for _, f := range []string{"filler", "filler2"} {
		if err := os.Remove(filepath.Join(mnt, f)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "sync", "-f", mnt)
	srv = startProc(t, data, env)
	led.verifyAll(t, srv.base)
	srv.stop(t)
	t.Logf("%d fill cycles in %.1fs, no crash; first fill %.1fs; the metadata directory took at most %d KiB on disk besides the reserve",
		diskFullCycles, time.Since(start).Seconds(), fillTime.Seconds(), maxMeta>>10)
}

// loopFS makes an ext4 filesystem of size bytes in a file and mounts it
// (root only, as in CI); it is unmounted when the test ends, failed or not.
func loopFS(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a loop ext4 filesystem and needs root (CI runs it as root)")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required for the disk-full test: %v", tool, err)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", img)
	run(t, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; detaching lazily", mnt, err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// metaBytes is the space the metadata store's files take (allocated
// blocks: its logs are sparse), the reserve left out.
func metaBytes(t *testing.T, data string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(filepath.Join(data, "meta"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "space-reserve" {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			return err
		}
		n += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ddFill has dd take every block an unprivileged process may use, as
// another program sharing the disk would.
func ddFill(t *testing.T, mnt, path string) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	mib := st.Bavail * uint64(st.Bsize) >> 20
	run(t, "dd", "if=/dev/zero", "of="+path, "bs=1M", fmt.Sprintf("count=%d", mib), "conv=fsync", "status=none")
}

// refuseToStart runs mcrsrv on a disk with no room at all and requires a
// clean refusal: exit status 1 with the reason, no fault.
func refuseToStart(t *testing.T, data string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBinary(t), "serve", "--data", data, "--addr", freeAddr(t))
	cmd.Env = append(append(serverEnviron(), "MCR_AUTH_MODE=none"), env...)
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "free space on it and start again") {
		t.Fatalf("mcrsrv on a disk with no room: %v\n%s", describeExit(err), tail(string(out), 20))
	}
}

// fillAll has dd write until the disk is full, root's blocks included.
func fillAll(t *testing.T, mnt, name string) {
	t.Helper()
	if out, err := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(mnt, name), "bs=1M", "status=none").CombinedOutput(); err == nil {
		t.Fatalf("dd did not fill the disk: %s", out)
	}
	run(t, "sync", "-f", mnt)
}

// proc is one mcrsrv process on the test's filesystem.
type proc struct {
	*child
	data string
	addr string // host:port
	base string
}

func startProc(t *testing.T, data string, env []string) *proc {
	t.Helper()
	return startProcOn(t, freeAddr(t), data, env)
}

// startProcOn is startProc listening on addr (a replica restarted where
// its load balancer expects it). Auth is off unless env turns it on.
func startProcOn(t *testing.T, addr, data string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(serverBinary(t), "serve", "--data", data, "--addr", addr)
	cmd.Env = append(append(serverEnviron(), "MCR_AUTH_MODE=none"), env...)
	p := &proc{child: startChild(t, "mcrsrv", cmd, filepath.Join(t.TempDir(), "mcrsrv.log")), addr: addr, base: "http://" + addr, data: data}
	t.Cleanup(func() {
		if !p.gone() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		p.logOnFailure(t)
	})
	p.waitReady(t, func() (bool, string) {
		code, err := (&registry{base: p.base}).ping()
		return err == nil && (code == http.StatusOK || code == http.StatusUnauthorized), fmt.Sprintf("GET /v2/ answered %d, %v", code, err) // 401: up, with auth on
	})
	return p
}

// alive fails the test if the server is gone: a crash is the one thing
// this test is about.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	if p.gone() {
		t.Fatalf("mcrsrv died: %v\n%s", describeExit(p.waitErr), logExcerpt(p.log))
	}
}

// stop sends SIGTERM and requires a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.alive(t)
	_, stopped, err := p.child.stop(syscall.SIGTERM)
	if !stopped {
		t.Fatalf("mcrsrv still running %s after SIGTERM: killed", stopTimeout)
	}
	if err != nil {
		t.Fatalf("mcrsrv did not exit cleanly on SIGTERM: %v\n%s", describeExit(err), logExcerpt(p.log))
	}
}

// gc runs a collection through the admin API and waits for it.
func (p *proc) gc(t *testing.T) {
	t.Helper()
	code, body := call(t, "POST", p.base+"/api/v1/gc", []byte("{}"))
	if code != http.StatusAccepted {
		t.Fatalf("POST /api/v1/gc: %d %s", code, body)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var st struct {
			GC struct {
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"gc"`
		}
		code, body := call(t, "GET", p.base+"/api/v1/gc", nil)
		if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
			t.Fatalf("GET /api/v1/gc: %d %s", code, body)
		}
		switch st.GC.State {
		case "succeeded":
			return
		case "queued", "running":
			time.Sleep(20 * time.Millisecond) // polling the job's observable state
		default:
			t.Fatalf("gc ended %s: %s", st.GC.State, st.GC.Error)
		}
	}
	t.Fatal("gc did not finish in a minute")
}

func call(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// fill pushes images from concurrent workers until each has been refused
// with 507; any other failure fails the test. It returns how many pushes
// were acknowledged.
func fill(t *testing.T, p *proc, led *ledger, cycle int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, fillWorkers)
	var pushed sync.Map
	for w := range fillWorkers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				img, status, err := pushImage(p.base, fmt.Sprintf("fill/w%d", w), fmt.Sprintf("c%d-%d", cycle, i))
				switch {
				case err != nil:
					errs <- err
					return
				case status == http.StatusInsufficientStorage:
					// Refused: the floor is crossed, or this image
					// would cross it (expectFull tops off with small
					// blobs).
					return
				case status != http.StatusCreated:
					errs <- fmt.Errorf("push answered %d", status)
					return
				}
				led.add(img)
				pushed.Store(img.ref(), true)
			}
			errs <- ctx.Err()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		p.alive(t)
		t.Fatalf("cycle %d fill: %v", cycle, err)
	}
	p.alive(t)
	n := 0
	pushed.Range(func(any, any) bool { n++; return true })
	return n
}

// topOff pushes ever smaller blobs until the floor itself refuses a
// push: a fill ends when an image no longer fits, a little above the
// floor.
func topOff(t *testing.T, p *proc) {
	t.Helper()
	size := 1 << 20
	for i := 0; !refusedNow(p.base); i++ {
		if i > 1000 {
			t.Fatal("the disk never went below its floor")
		}
		blob := make([]byte, size)
		_, _ = rand.Read(blob)
		code, err := postBlob(p.base, "full/topoff", blob)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case code == http.StatusInsufficientStorage:
			size = max(size/2, 1)
		case code != http.StatusCreated:
			t.Fatalf("top-off push: %d", code)
		}
	}
}

// refusedNow reports whether the server refuses a push up front now.
func refusedNow(base string) bool {
	res, err := http.Post(base+"/v2/full/probe/blobs/uploads/", "", nil)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusInsufficientStorage
}

// expectFull checks the server below its floor: a push is 507 with
// INSUFFICIENT_STORAGE, /readyz is 200 degraded, the metrics and the
// admin status say so, and pulls work.
func expectFull(t *testing.T, p *proc, led *ledger) {
	t.Helper()
	p.alive(t)
	topOff(t, p)
	layer := []byte("x")
	code, body := call(t, "POST", p.base+"/v2/full/probe/blobs/uploads/?digest="+digestOf(layer), layer)
	if code != http.StatusInsufficientStorage || !strings.Contains(string(body), `"code":"INSUFFICIENT_STORAGE"`) {
		t.Fatalf("push on a full disk: %d %s", code, body)
	}
	code, body = call(t, "GET", p.base+"/readyz", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"status":"degraded"`) {
		t.Fatalf("/readyz on a full disk: %d %s", code, body)
	}
	if _, body = call(t, "GET", p.base+"/metrics", nil); !strings.Contains(string(body), `mcr_storage_below_floor{filesystem="data,meta"} 1`) {
		t.Fatal("/metrics does not show the floor crossed")
	}
	if _, body = call(t, "GET", p.base+"/api/v1/status", nil); !strings.Contains(string(body), `"below_floor":true`) {
		t.Fatalf("admin status does not show the floor crossed: %s", body)
	}
	led.verifySome(t, p.base, 5)
}

// expectPush checks that a push is taken again once space is back (the
// reserve is re-created by the monitor within its interval first).
func expectPush(t *testing.T, p *proc, led *ledger, cycle int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		img, status, err := pushImage(p.base, "after/free", fmt.Sprintf("c%d-%d", cycle, i))
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusCreated {
			led.add(img)
			waitReserve(t, p)
			return
		}
		if status != http.StatusInsufficientStorage || time.Now().After(deadline) {
			out, _ := exec.Command("sh", "-c", "du -sk "+p.data+"/* "+p.data+"/meta/*; df -k "+p.data).CombinedOutput()
			t.Fatalf("push after freeing space: %d\n%s", status, out)
		}
		time.Sleep(100 * time.Millisecond) // the monitor re-creates the reserve at its next tick
	}
}

// waitReserve waits for the monitor to re-create the metadata store's
// reserve (at its next tick) once space is back, as the admin status
// shows it.
func waitReserve(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Storage struct {
				Filesystems []struct {
					ReserveBytes uint64 `json:"reserve_bytes"`
					ReserveSize  uint64 `json:"reserve_size"`
				} `json:"filesystems"`
			} `json:"storage"`
		}
		code, body := call(t, "GET", p.base+"/api/v1/status", nil)
		if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil || len(st.Storage.Filesystems) != 1 {
			t.Fatalf("admin status: %d %s", code, body)
		}
		fs := st.Storage.Filesystems[0]
		if fs.ReserveSize == 0 || fs.ReserveBytes == fs.ReserveSize {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reserve not re-created with space back: %s", body)
		}
		time.Sleep(50 * time.Millisecond) // polling the monitor's observable state
	}
}
