package machine

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/payload"
)

// Limits are the machine's throughput ceilings in MB/s (MiB/s).
type Limits struct {
	SHA256 float64 `json:"sha256_mbps"` // one core hashing
	// SHA256CPU is the same hashing per second of CPU time of the thread
	// that hashed. It moves less with the machine's load than SHA256, but
	// still by a third between two quiet minutes, so push-large holds a
	// registry's CPU per blob against a hash timed just before each blob
	// instead (HashCost, scenario.PushLarge). 0 in results of harnesses
	// that predate it.
	SHA256CPU float64 `json:"sha256_cpu_mbps,omitempty"`
	Loopback  float64 `json:"loopback_mbps"` // one TCP stream over 127.0.0.1
	Fsync     float64 `json:"fsync_mbps"`    // sequential write then fsync
	// SmallFsyncs is how many 4 KiB write + fsync pairs one thread
	// completes per second: the ceiling of a path that makes each small
	// write durable before answering.
	SmallFsyncs float64 `json:"small_fsyncs_per_s"`
}

// Measure runs the three measurements with size bytes each (the write test
// in dir, which should be on the registries' filesystem).
func Measure(dir string, size int64) (Limits, error) {
	var l Limits
	var err error
	if l.SHA256, l.SHA256CPU, err = SHA256(size); err != nil {
		return l, err
	}
	if l.Loopback, err = Loopback(size * 4); err != nil {
		return l, err
	}
	if l.Fsync, err = WriteFsync(dir, size); err != nil {
		return l, err
	}
	if l.SmallFsyncs, err = SmallFsyncs(dir, time.Second); err != nil {
		return l, err
	}
	return l, nil
}

// SmallFsyncs appends 4 KiB and fsyncs, in a loop on one goroutine, for d,
// and returns the pairs completed per second.
func SmallFsyncs(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "bench-fsync-small-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4<<10)
	payload.Fill(45, buf)
	n := 0
	t0 := time.Now()
	for time.Since(t0) < d {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// SHA256 hashes size bytes (HashCost): the single-core ceiling of
// anything that verifies digests while it streams, per second of wall
// time and per second of the thread's CPU time.
func SHA256(size int64) (wall, cpu float64, err error) {
	d, c := HashCost(size)
	return mbps(size, d), mbps(size, c), nil
}

// HashCost is what SHA-256 of size bytes costs this machine now: the wall
// time and the CPU time of the thread that hashed them, from a 4 MiB
// buffer on one goroutine locked to its thread. What else the machine
// runs moves both (the CPU time by a third between two quiet minutes), so
// a cost held against it is best measured in the same minute.
func HashCost(size int64) (wall, cpu time.Duration) {
	buf := make([]byte, 4<<20)
	payload.Fill(42, buf)
	h := sha256.New()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, t0 := ThreadCPU(), time.Now()
	for done := int64(0); done < size; done += int64(len(buf)) {
		h.Write(buf)
	}
	c1, d := ThreadCPU(), time.Since(t0)
	_ = h.Sum(nil)
	return d, c1 - c0
}

// Loopback sends size bytes over one TCP connection on 127.0.0.1 in 1 MiB
// writes to a reader that discards them.
func Loopback(size int64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<20)
		n, err := io.CopyBuffer(io.Discard, c, buf)
		if err == nil && n != size {
			err = fmt.Errorf("loopback: received %d of %d bytes", n, size)
		}
		got <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	payload.Fill(43, buf)
	t0 := time.Now()
	for sent := int64(0); sent < size; sent += int64(len(buf)) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	if err := <-got; err != nil {
		return 0, err
	}
	return mbps(size, time.Since(t0)), nil
}

// WriteFsync writes size bytes in 1 MiB writes to a new file in dir, then
// fsyncs it: what a registry must do before acknowledging a blob.
func WriteFsync(dir string, size int64) (float64, error) {
	f, err := os.CreateTemp(dir, "bench-fsync-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	payload.Fill(44, buf)
	t0 := time.Now()
	for done := int64(0); done < size; done += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return mbps(size, time.Since(t0)), nil
}

// Info describes the machine.
type Info struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	MemMiB int64  `json:"mem_mib"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// Describe reads /proc for the machine description.
func Describe() Info {
	i := Info{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				i.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			i.MemMiB = kb / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		i.Kernel = strings.TrimSpace(string(b))
	}
	return i
}

// TempDir is dir, or the system temporary directory when dir is empty,
// made absolute.
func TempDir(dir string) string {
	if dir == "" {
		dir = os.TempDir()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}
