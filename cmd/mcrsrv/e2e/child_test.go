package e2e

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// child is a process a test started (mcrsrv, nginx), its output in a log
// file. Its exit is watched from the start, so that a crash is seen when
// it happens, not at the next request.
type child struct {
	name    string
	cmd     *exec.Cmd
	log     string
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// startChild starts cmd with its output in the new file log.
func startChild(t *testing.T, name string, cmd *exec.Cmd, log string) *child {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child holds its own descriptor
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	c := &child{name: name, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { c.waitErr = cmd.Wait(); close(c.exited) }()
	return c
}

// gone reports whether the child has exited.
func (c *child) gone() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to stopTimeout for the exit; a child still
// running then is killed (stopped false). err is the exit's.
func (c *child) stop(sig os.Signal) (took time.Duration, stopped bool, err error) {
	_ = c.cmd.Process.Signal(sig)
	start := time.Now()
	select {
	case <-c.exited:
		return time.Since(start), true, c.waitErr
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return time.Since(start), false, c.waitErr
	}
}

// logOnFailure shows the child's log when the test has failed.
func (c *child) logOnFailure(t *testing.T) {
	if t.Failed() {
		t.Logf("%s log (%s):\n%s", c.name, c.log, logExcerpt(c.log))
	}
}

// waitReady polls ready every 50ms until it answers true, failing the test
// when the child exits first or readyTimeout passes; what describes the
// last failed poll.
func (c *child) waitReady(t *testing.T, ready func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		ok, what := ready()
		if ok {
			return
		}
		select {
		case <-c.exited:
			t.Fatalf("%s exited during start-up: %v\n%s", c.name, describeExit(c.waitErr), logExcerpt(c.log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %s", c.name, readyTimeout, what)
		}
	}
}
