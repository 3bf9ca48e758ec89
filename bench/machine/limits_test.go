package machine

import (
	"os"
	"testing"
)

func TestMeasureSmall(t *testing.T) {
	l, err := Measure(t.TempDir(), 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	if l.SHA256 <= 0 || l.SHA256CPU <= 0 || l.Loopback <= 0 || l.Fsync <= 0 || l.SmallFsyncs <= 0 {
		t.Fatalf("limits %+v: want all positive", l)
	}
	if d := Describe(); d.Cores <= 0 {
		t.Fatalf("Describe: %+v", d)
	}
}

func TestCPU(t *testing.T) {
	a := SnapCPU(os.Getpid())
	x := 0
	for i := range 20_000_000 {
		x ^= i * i
	}
	_ = x
	b := SnapCPU(os.Getpid())
	if u := b.Since(a); u.Self < 0 || u.Proc < 0 || b.Machine < a.Machine {
		t.Fatalf("usage %+v", u)
	}
}

// TestSHA256CPU checks the CPU-time figure against the wall-clock one:
// the thread cannot hash for longer than it ran, so per second of CPU it
// hashes at least as much as per second of wall time (a little slack for
// the two clocks' resolutions).
func TestSHA256CPU(t *testing.T) {
	wall, cpu, err := SHA256(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 || cpu < 0.95*wall {
		t.Fatalf("sha256 %.0f MB/s per second of wall time, %.0f per second of CPU: want CPU ≥ wall", wall, cpu)
	}
}
