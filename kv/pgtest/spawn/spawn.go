// Package spawn starts the servers tests run as child processes
// (PostgreSQL, the S3 servers) so that the kernel kills them if the test
// process dies first, and only then.
//
// The kernel's parent-death signal (PR_SET_PDEATHSIG, exec's
// SysProcAttr.Pdeathsig) fires when the thread that forked the child
// ends, not when the process does. A Go program ends threads: a goroutine
// that exits locked to its thread takes the thread with it, which is how
// mcrsrv's quiet-time release hands idle threads back (cmd/mcrsrv,
// trimThreads) and which its tests run inside the test binary. A server
// forked from such a thread was killed in the middle of the run, and
// every later test that used it failed with "connection refused". Start
// forks every child from one goroutine locked to its thread for the life
// of the process, so the signal comes only when the process ends.
package spawn

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

type request struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	once     sync.Once
	requests = make(chan request)
)

// Start starts cmd with SIGKILL as its parent-death signal, forked from
// a thread that lives as long as this process. Everything else about cmd
// (its credentials, its process group) is the caller's.
func Start(cmd *exec.Cmd) error {
	once.Do(func() { go fork() })
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	r := request{cmd: cmd, done: make(chan error, 1)}
	requests <- r
	return <-r.done
}

// fork runs every Start's fork on its own thread; it never returns, so
// the thread never ends.
func fork() {
	runtime.LockOSThread()
	for r := range requests {
		r.done <- r.cmd.Start()
	}
}
