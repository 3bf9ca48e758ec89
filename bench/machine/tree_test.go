package machine

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestSnapTree finds a child of this process and counts the CPU it uses.
func TestSnapTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; read x")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := SnapTree(os.Getpid())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := SnapTree(os.Getpid())
		if now[cmd.Process.Pid] > 0 && now.Since(start) >= now[cmd.Process.Pid] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d: CPU %v in the tree %v after 30s", cmd.Process.Pid, now[cmd.Process.Pid], now)
		}
		time.Sleep(10 * time.Millisecond) // polling the child's CPU counter, bounded by the deadline
	}
}
