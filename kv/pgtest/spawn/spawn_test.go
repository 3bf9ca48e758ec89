package spawn

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// TestChildOutlivesCallersThread: a goroutine locked to its thread forks
// one child itself and one through Start, then exits, which ends its
// thread. The kernel kills the first (the hazard Start exists for); the
// second is still running and dies only of the signal the test sends it.
func TestChildOutlivesCallersThread(t *testing.T) {
	direct, spawned := exec.Command("sleep", "60"), exec.Command("sleep", "60")
	started := make(chan error, 1)
	onEndingThread(func() {
		direct.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := direct.Start(); err != nil {
			started <- err
			return
		}
		started <- Start(spawned)
	})
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	// The thread's exit signals its children before this Wait can
	// return; a SIGKILL sent to the spawned child then would already be
	// pending when the SIGTERM below is sent, and would win.
	if sig := killedBy(direct.Wait()); sig != syscall.SIGKILL {
		t.Fatalf("child forked by the exited thread: ended by %v, want SIGKILL", sig)
	}
	if err := spawned.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if sig := killedBy(spawned.Wait()); sig != syscall.SIGTERM {
		t.Fatalf("child forked by Start: ended by %v, want the test's SIGTERM", sig)
	}
}

// onEndingThread runs f in a goroutine locked to a thread that ends when
// f returns. The runtime never ends the main thread (a goroutine exiting
// locked to it wedges it instead), so a goroutine that finds itself there
// holds it while f runs on another.
func onEndingThread(f func()) {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if syscall.Gettid() != os.Getpid() {
			f()
			return
		}
		done := make(chan struct{})
		onEndingThread(func() { defer close(done); f() })
		<-done
		runtime.UnlockOSThread()
	}()
}

// killedBy is the signal that ended a child, from its Wait's error; 0 if
// it exited on its own.
func killedBy(err error) syscall.Signal {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return 0
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}
