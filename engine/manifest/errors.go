package manifest

import "fmt"

// Kind classifies why a manifest was refused. The engine maps every Kind to
// an OCI error code; the distribution spec has MANIFEST_INVALID for all of
// them (its DIGEST_INVALID means "provided digest did not match uploaded
// content", which is about the manifest's own digest, not the descriptors
// inside it), so the kinds are for detail and logs rather than the code.
type Kind int

// The kinds. The zero Kind is deliberately none of them.
const (
	// KindInvalid: the payload is not a well-formed manifest of its type.
	KindInvalid Kind = iota + 1
	// KindUnsupported: the media type is not one the registry stores.
	KindUnsupported
	// KindDigest: a descriptor's digest is malformed or of an algorithm
	// the registry does not allow.
	KindDigest
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnsupported:
		return "unsupported"
	case KindDigest:
		return "digest"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a validation failure. Detail is safe to show to the client: it
// names the offending field (e.g. "layers[2].digest") and the reason.
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string { return "manifest " + e.Kind.String() + ": " + e.Detail }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error { return errorf(KindInvalid, format, args...) }
