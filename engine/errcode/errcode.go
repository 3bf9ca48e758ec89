// Package errcode defines the typed errors that leave the engine. Each Kind
// is a domain condition, not a wire format: the HTTP layer maps every Kind
// to an OCI error code and status in one table (http/distapi/errors.go), and
// a test there checks that no Kind is left unmapped.
package errcode

import (
	"errors"
	"fmt"
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

// New returns an error of kind k.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k that keeps cause for logs; the client sees
// only the message.
func Wrap(k Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), cause: cause}
}

// WithDetail sets the structured detail and returns e.
func (e *Error) WithDetail(d any) *Error { e.Detail = d; return e }

// KindOf returns the Kind of err: Internal for anything that is not an
// *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
