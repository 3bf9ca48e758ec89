package jobs

import (
	"errors"
	"fmt"
)

var (
	// ErrBusy is returned by Pool.Do when every worker is busy and the
	// queue is full, and by Runner.Submit when the run queue is full. The
	// caller sheds load (HTTP 429) instead of waiting.
	ErrBusy = errors.New("jobs: busy")
	// ErrClosed is returned after Pool.Close or Runner.Stop.
	ErrClosed = errors.New("jobs: closed")
	// ErrRunning is returned when a run of the same kind is already queued
	// or running.
	ErrRunning = errors.New("jobs: a run of this kind is already queued or running")
	// ErrUnknownJob is returned for a kind that was never registered.
	ErrUnknownJob = errors.New("jobs: unknown job kind")
	// ErrNotStarted is returned by Runner.Trigger before Start.
	ErrNotStarted = errors.New("jobs: runner not started")
	// ErrPanic is wrapped by the error reported for a panicking task or job.
	ErrPanic = errors.New("jobs: panic")
)

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
