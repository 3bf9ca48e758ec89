package actors

import "errors"

var (
	// ErrBusy is returned by Ask when the key's mailbox is full. It is not
	// retried here: the caller sheds load (HTTP 429 TOOMANYREQUESTS) so a
	// hot repository cannot queue without bound.
	ErrBusy error = &kindError{"actors: mailbox full, retry later", "TooManyRequests"}

	// ErrStopped is returned by Ask once Stop has begun: the server is
	// stopping (503).
	ErrStopped error = &kindError{"actors: system stopped", "Unavailable"}

	// ErrPanic is wrapped by the error Ask returns when the message
	// panicked (or called runtime.Goexit); the message text carries the
	// panic value and the stack. A panic is a bug: it stays internal.
	ErrPanic = errors.New("actors: message panicked")
)

// kindError is a sentinel that names its kind in the engine's error
// registry (engine/errcode, which reads ErrorKind): actors imports only
// the standard library, so it names the kind instead of importing it.
type kindError struct{ msg, kind string }

func (e *kindError) Error() string     { return e.msg }
func (e *kindError) ErrorKind() string { return e.kind }
