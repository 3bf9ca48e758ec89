package machine

import (
	"os"
	"testing"
	"time"
)

// TestProcCPU burns 50 ms of CPU and checks that reading this process
// from /proc sees it, as the harness reads a registry's.
func TestProcCPU(t *testing.T) {
	pid := os.Getpid()
	p0, s0 := ProcCPU(pid), SelfCPU()
	x := 0
	for SelfCPU()-s0 < 50*time.Millisecond {
		for i := range 100000 {
			x += i
		}
	}
	if d := ProcCPU(pid) - p0; d < 40*time.Millisecond || x == 0 {
		t.Fatalf("ProcCPU grew by %s while this process used %s", d, SelfCPU()-s0)
	}
}
