package actors

import "errors"

var (
	// ErrBusy is returned by Ask when the key's mailbox is full. It is not
	// retried here: the caller sheds load (HTTP 429 TOOMANYREQUESTS) so a
	// hot repository cannot queue without bound.
	ErrBusy = errors.New("actors: mailbox full")

	// ErrStopped is returned by Ask once Stop has begun.
	ErrStopped = errors.New("actors: system stopped")

	// ErrPanic is wrapped by the error Ask returns when the message
	// panicked (or called runtime.Goexit); the message text carries the
	// panic value and the stack.
	ErrPanic = errors.New("actors: message panicked")
)
