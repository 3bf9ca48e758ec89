package machine

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// TestSnapTree finds a child of this process and counts the CPU it used.
func TestSnapTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; read x")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := SnapTree(os.Getpid())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	// The child has done its work once it says so, and waits on stdin.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	now := SnapTree(os.Getpid())
	child := now[cmd.Process.Pid]
	if child <= 0 {
		t.Fatalf("child %d: no CPU time in the tree %v", cmd.Process.Pid, now)
	}
	if used := now.Since(start); used < child {
		t.Errorf("the tree used %v since the start, less than the child's own %v", used, child)
	}
}
