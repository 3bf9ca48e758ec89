package jobs

import (
	"errors"
	"fmt"
)

var (
	// ErrBusy is returned by Pool.Do when every worker is busy and the
	// queue is full, and by Runner.Trigger when the run queue is full. The
	// caller sheds load (HTTP 429) instead of waiting.
	ErrBusy error = &kindError{"jobs: the queue is full, retry later", "TooManyRequests"}
	// ErrClosed is returned after Pool.Close or Runner.Stop: the server is
	// stopping.
	ErrClosed error = &kindError{"jobs: closed", "Unavailable"}
	// ErrRunning is returned when a run of the same kind is already queued
	// or running.
	ErrRunning error = &kindError{"jobs: a run of this kind is already queued or running", "Conflict"}
	// ErrUnknownJob is returned for a kind that was never registered.
	ErrUnknownJob error = &kindError{"jobs: unknown job kind", "NotFound"}
	// ErrNotStarted is returned by Runner.Trigger before Start: the server
	// is not serving yet.
	ErrNotStarted error = &kindError{"jobs: runner not started", "Unavailable"}
	// ErrPanic is wrapped by the error reported for a panicking task or
	// job. A panic is a bug: it stays internal.
	ErrPanic = errors.New("jobs: panic")
)

// kindError is a sentinel that names its kind in the engine's error
// registry (engine/errcode, which reads ErrorKind): jobs sits below the
// engine, so it names the kind instead of importing it.
type kindError struct{ msg, kind string }

func (e *kindError) Error() string     { return e.msg }
func (e *kindError) ErrorKind() string { return e.kind }

// PanicError is a recovered panic. It wraps ErrPanic.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("jobs: panic: %v", e.Value) }

// Unwrap makes errors.Is(err, ErrPanic) true, and exposes the panic value
// when it is itself an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
