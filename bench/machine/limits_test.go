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
	if l.SHA256 <= 0 || l.Loopback <= 0 || l.Fsync <= 0 || l.SmallFsyncs <= 0 {
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
