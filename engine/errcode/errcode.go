package errcode

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error is an engine error with its kind, a message for the client and an
// optional structured detail (serialized into the OCI error's "detail").
type Error struct {
	Kind    Kind
	Message string
	Detail  any
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.cause)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// New returns an error of kind k. String arguments are clipped (Clip):
// they are usually the client's own input, echoed back.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, clipArgs(args)...)}
}

// Wrap returns an error of kind k that keeps cause for logs; the client sees
// only the message, its string arguments clipped as in New.
func Wrap(k Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, clipArgs(args)...), cause: cause}
}

// WithDetail sets the structured detail and returns e. The string values
// of a string or map[string]string detail are clipped as in New.
func (e *Error) WithDetail(d any) *Error {
	switch v := d.(type) {
	case string:
		d = Clip(v)
	case map[string]string:
		m := make(map[string]string, len(v))
		for k, s := range v {
			m[k] = Clip(s)
		}
		d = m
	}
	e.Detail = d
	return e
}

// MaxEcho bounds the bytes of client input an error repeats: a 10 KB
// repository name is refused in a few hundred bytes, not echoed whole.
const MaxEcho = 256

// Clip returns s cut to MaxEcho bytes, on a rune boundary, with an
// ellipsis when anything was cut.
func Clip(s string) string {
	if len(s) <= MaxEcho {
		return s
	}
	cut := MaxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// clipArgs clips the string arguments of a message, on a copy: the
// caller's slice is not ours to change.
func clipArgs(args []any) []any {
	var out []any
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > MaxEcho {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = Clip(s)
		}
	}
	if out == nil {
		return args
	}
	return out
}

// KindOf returns the Kind of err: Internal for anything that carries no
// kind.
func KindOf(err error) Kind {
	k, _ := find(err)
	return k
}

// Public returns what a client may read of err: its kind, message and
// detail. An internal error's text stays in the log; its message is
// "internal error". Every surface writes its answer from this.
func Public(err error) (k Kind, message string, detail any) {
	k, c := find(err)
	switch e := c.(type) {
	case nil:
		return Internal, "internal error", nil
	case *Error:
		return k, e.Message, e.Detail
	}
	return k, c.Error(), nil
}

// kinded is an error that names its kind: every *Error, and the sentinel
// errors of the packages below the engine (kv, actors, jobs), which may
// not import errcode and answer with the kind's registered name.
type kinded interface {
	error
	ErrorKind() string
}

// ErrorKind is e's kind by its registered name.
func (e *Error) ErrorKind() string { return e.Kind.String() }

// find returns the kind of the outermost error in err's chain that names
// one (the most specific: an engine error wrapping a store's sentinel
// answers as the engine said) and that error.
func find(err error) (Kind, kinded) {
	var c kinded
	if !errors.As(err, &c) {
		return Internal, nil
	}
	if e, ok := c.(*Error); ok {
		if e.Kind == Internal {
			return Internal, nil
		}
		return e.Kind, e
	}
	k, ok := Named(c.ErrorKind())
	if !ok || k == Internal {
		return Internal, nil
	}
	return k, c
}
