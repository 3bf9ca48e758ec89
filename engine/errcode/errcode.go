// Package errcode defines the typed errors that leave the engine. Each Kind
// is a domain condition, not a wire format: the HTTP layer maps every Kind
// to an OCI error code and status in one table (http/distapi/errors.go), and
// a test there checks that no Kind is left unmapped.
package errcode

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Kind is a class of registry error.
type Kind int

// The kinds. Names follow the OCI distribution spec's error codes where one
// exists (spec §"Error Codes"); the rest are conditions that need their own
// HTTP status.
const (
	Internal            Kind = iota // a bug or an I/O failure: never bad input
	BlobUnknown                     // BLOB_UNKNOWN
	BlobUploadInvalid               // BLOB_UPLOAD_INVALID
	BlobUploadUnknown               // BLOB_UPLOAD_UNKNOWN
	DigestInvalid                   // DIGEST_INVALID
	ManifestBlobUnknown             // MANIFEST_BLOB_UNKNOWN
	ManifestInvalid                 // MANIFEST_INVALID
	ManifestUnknown                 // MANIFEST_UNKNOWN
	NameInvalid                     // NAME_INVALID
	NameUnknown                     // NAME_UNKNOWN
	SizeInvalid                     // SIZE_INVALID
	Unsupported                     // UNSUPPORTED
	RangeInvalid                    // a chunk that does not start at the upload's offset (416)
	TooLarge                        // a body over its limit, e.g. a manifest over 4 MiB (413)
	PaginationInvalid               // a bad n or last query parameter
	Busy                            // a bounded queue is full: retry later (429)
	Unauthorized                    // UNAUTHORIZED
	Denied                          // DENIED
	TooManyRequests                 // TOOMANYREQUESTS
	EndpointUnknown                 // a path that is no endpoint of the API
	Invalid                         // a malformed request outside the OCI codes: a bad policy rule, token request (400)
	NotFound                        // an operator resource that does not exist: a rule, a job (404)
	Conflict                        // the resource exists already or is in a state that forbids the change (409)
	Unavailable                     // a store the request needs does not answer: retry later (503 with Retry-After)
	InsufficientStorage             // free space or inodes below the storage floor: writes that add data are refused (507)
	kindCount
)

// Kinds lists every Kind, for tests that check a mapping is complete.
func Kinds() []Kind {
	ks := make([]Kind, 0, kindCount)
	for k := Internal; k < kindCount; k++ {
		ks = append(ks, k)
	}
	return ks
}

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

// KindOf returns the Kind of err: Internal for anything that is not an
// *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	// A store below the engine that could not be reached says so with
	// this method (kv.ErrUnavailable), so that kv needs no errcode.
	var u interface{ Unavailable() bool }
	if errors.As(err, &u) && u.Unavailable() {
		return Unavailable
	}
	return Internal
}
