package errcode

// Kind is a class of registry error: a domain condition, not a wire
// format. Every kind is registered once, in kinds below, with its answer
// on each surface.
type Kind int

// The kinds. Names follow the OCI distribution spec's error codes where one
// exists (spec §"Error Codes"); the rest are conditions that need their own
// answer.
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
	Unsupported                     // UNSUPPORTED: a method a route does not take
	UploadInUse                     // an upload another request is writing at this moment
	RangeInvalid                    // a chunk that does not start at the upload's offset (416)
	TooLarge                        // a body over its limit, e.g. a manifest over 4 MiB (413)
	PaginationInvalid               // a bad n, last or cursor query parameter
	Unauthorized                    // UNAUTHORIZED
	Denied                          // DENIED
	TooManyRequests                 // TOOMANYREQUESTS: a bounded queue or a rate limit is full, retry later
	EndpointUnknown                 // a path that is no endpoint of the API
	BadRequest                      // a request that cannot be parsed: bad JSON or form, an unknown field, a body cut short
	Invalid                         // an operator's request that parses but is refused: a bad rule, account or token request
	NotFound                        // an operator resource that does not exist: a rule, a job, an access key
	Conflict                        // an operator resource exists already or is in a state that forbids the change
	Unavailable                     // a store the request needs does not answer, or the server is stopping: retry later
	InsufficientStorage             // free space or inodes below the storage floor: writes that add data are refused
	kindCount
)

// Answer is how one HTTP surface answers a kind: its error code and
// status. The statuses are plain numbers: the engine imports no HTTP
// package (docs/design.md §2).
type Answer struct {
	Code   string
	Status int
}

// Descriptor is everything the surfaces need to know of a kind.
type Descriptor struct {
	// Name is the kind's name, as in Go and docs/api.md; a package
	// below the engine names its errors' kind with it (KindOf).
	Name string
	// OCI is the distribution API's answer (/v2), and the status of the
	// web UI's error page (it speaks plain HTTP, as /v2 does).
	OCI Answer
	// Admin is the admin REST API's answer (/api/v1, apiv1 codes).
	Admin Answer
	// GRPC is the admin gRPC API's status code, by its canonical name
	// (google.rpc.Code): the engine has no gRPC import.
	GRPC string
}

// kinds is the one registry of error kinds and their answers
// (distribution's registry/api/errcode is the model). The OCI codes are
// the spec's where it has one; PAGINATION_NUMBER_INVALID is
// distribution's; the others are codes of our own, named after the
// condition (docs/api.md). The admin API speaks to an operator: a bad
// name there is INVALID (422), not NAME_INVALID. TestRegistry keeps it
// complete, and keeps 5xx for the server's own failures.
var kinds = [kindCount]Descriptor{
	Internal:            {"Internal", Answer{"INTERNAL_ERROR", 500}, Answer{"INTERNAL", 500}, "INTERNAL"},
	BlobUnknown:         {"BlobUnknown", Answer{"BLOB_UNKNOWN", 404}, Answer{"NOT_FOUND", 404}, "NOT_FOUND"},
	BlobUploadInvalid:   {"BlobUploadInvalid", Answer{"BLOB_UPLOAD_INVALID", 400}, Answer{"BAD_REQUEST", 400}, "INVALID_ARGUMENT"},
	BlobUploadUnknown:   {"BlobUploadUnknown", Answer{"BLOB_UPLOAD_UNKNOWN", 404}, Answer{"NOT_FOUND", 404}, "NOT_FOUND"},
	DigestInvalid:       {"DigestInvalid", Answer{"DIGEST_INVALID", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	ManifestBlobUnknown: {"ManifestBlobUnknown", Answer{"MANIFEST_BLOB_UNKNOWN", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	ManifestInvalid:     {"ManifestInvalid", Answer{"MANIFEST_INVALID", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	ManifestUnknown:     {"ManifestUnknown", Answer{"MANIFEST_UNKNOWN", 404}, Answer{"NOT_FOUND", 404}, "NOT_FOUND"},
	NameInvalid:         {"NameInvalid", Answer{"NAME_INVALID", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	NameUnknown:         {"NameUnknown", Answer{"NAME_UNKNOWN", 404}, Answer{"NOT_FOUND", 404}, "NOT_FOUND"},
	SizeInvalid:         {"SizeInvalid", Answer{"SIZE_INVALID", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	Unsupported:         {"Unsupported", Answer{"UNSUPPORTED", 405}, Answer{"METHOD_NOT_ALLOWED", 405}, "UNIMPLEMENTED"},
	// One upload is written by one request at a time: to a registry
	// client the second is an invalid upload request (as the spec's
	// chunk rules have it); to an operator removing it, a conflict to
	// retry once the request ends.
	UploadInUse:       {"UploadInUse", Answer{"BLOB_UPLOAD_INVALID", 400}, Answer{"CONFLICT", 409}, "ABORTED"},
	RangeInvalid:      {"RangeInvalid", Answer{"BLOB_UPLOAD_INVALID", 416}, Answer{"BAD_REQUEST", 400}, "OUT_OF_RANGE"},
	TooLarge:          {"TooLarge", Answer{"SIZE_INVALID", 413}, Answer{"TOO_LARGE", 413}, "RESOURCE_EXHAUSTED"},
	PaginationInvalid: {"PaginationInvalid", Answer{"PAGINATION_NUMBER_INVALID", 400}, Answer{"BAD_REQUEST", 400}, "INVALID_ARGUMENT"},
	Unauthorized:      {"Unauthorized", Answer{"UNAUTHORIZED", 401}, Answer{"UNAUTHORIZED", 401}, "UNAUTHENTICATED"},
	Denied:            {"Denied", Answer{"DENIED", 403}, Answer{"DENIED", 403}, "PERMISSION_DENIED"},
	TooManyRequests:   {"TooManyRequests", Answer{"TOOMANYREQUESTS", 429}, Answer{"TOO_MANY_REQUESTS", 429}, "RESOURCE_EXHAUSTED"},
	EndpointUnknown:   {"EndpointUnknown", Answer{"NOT_FOUND", 404}, Answer{"NOT_FOUND", 404}, "UNIMPLEMENTED"},
	BadRequest:        {"BadRequest", Answer{"BAD_REQUEST", 400}, Answer{"BAD_REQUEST", 400}, "INVALID_ARGUMENT"},
	Invalid:           {"Invalid", Answer{"INVALID", 400}, Answer{"INVALID", 422}, "INVALID_ARGUMENT"},
	NotFound:          {"NotFound", Answer{"NOT_FOUND", 404}, Answer{"NOT_FOUND", 404}, "NOT_FOUND"},
	// Conflicts are states that refuse the call: a rule or account that
	// exists, a job already running, a part not managed in this mode.
	Conflict:    {"Conflict", Answer{"CONFLICT", 409}, Answer{"CONFLICT", 409}, "FAILED_PRECONDITION"},
	Unavailable: {"Unavailable", Answer{"UNAVAILABLE", 503}, Answer{"UNAVAILABLE", 503}, "UNAVAILABLE"},
	// The spec has no storage code (distribution answers a full disk
	// with 500 UNKNOWN): a code of our own, named after the status, tells
	// the client the registry is full rather than broken. Over gRPC the
	// disk is a resource that ran out.
	InsufficientStorage: {"InsufficientStorage", Answer{"INSUFFICIENT_STORAGE", 507}, Answer{"INSUFFICIENT_STORAGE", 507}, "RESOURCE_EXHAUSTED"},
}

// Kinds lists every Kind, for tests that walk the registry.
func Kinds() []Kind {
	ks := make([]Kind, 0, kindCount)
	for k := Internal; k < kindCount; k++ {
		ks = append(ks, k)
	}
	return ks
}

// Describe returns k's registered descriptor; an unknown k is Internal's.
func (k Kind) Describe() Descriptor {
	if k < 0 || k >= kindCount {
		return kinds[Internal]
	}
	return kinds[k]
}

// String is the kind's registered name.
func (k Kind) String() string { return k.Describe().Name }

// Named returns the kind registered as name.
func Named(name string) (Kind, bool) {
	for k, d := range kinds {
		if d.Name == name {
			return Kind(k), true
		}
	}
	return Internal, false
}

// ServerFault reports whether k is the server's own failure: the only
// kinds any surface answers with a 5xx. Bad input never is one.
func (k Kind) ServerFault() bool {
	return k == Internal || k == Unavailable || k == InsufficientStorage
}
