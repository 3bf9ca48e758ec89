package grpcapi

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// codeOf is the one table from engine error kinds to gRPC status codes.
// TestEveryKindMapped keeps it complete, and checks that only Internal
// becomes Internal: bad input never does.
var codeOf = map[errcode.Kind]codes.Code{
	errcode.Internal:            codes.Internal,
	errcode.BlobUnknown:         codes.NotFound,
	errcode.BlobUploadInvalid:   codes.InvalidArgument,
	errcode.BlobUploadUnknown:   codes.NotFound,
	errcode.DigestInvalid:       codes.InvalidArgument,
	errcode.ManifestBlobUnknown: codes.InvalidArgument,
	errcode.ManifestInvalid:     codes.InvalidArgument,
	errcode.ManifestUnknown:     codes.NotFound,
	errcode.NameInvalid:         codes.InvalidArgument,
	errcode.NameUnknown:         codes.NotFound,
	errcode.SizeInvalid:         codes.InvalidArgument,
	errcode.Unsupported:         codes.Unimplemented,
	errcode.RangeInvalid:        codes.OutOfRange,
	errcode.TooLarge:            codes.ResourceExhausted,
	errcode.PaginationInvalid:   codes.InvalidArgument,
	errcode.Busy:                codes.Unavailable,
	errcode.Unauthorized:        codes.Unauthenticated,
	errcode.Denied:              codes.PermissionDenied,
	errcode.TooManyRequests:     codes.ResourceExhausted,
	errcode.EndpointUnknown:     codes.Unimplemented,
	errcode.Invalid:             codes.InvalidArgument,
	errcode.NotFound:            codes.NotFound,
	// Conflicts are states that refuse the call: a rule or account that
	// exists, a job already running, a part not managed in this mode.
	errcode.Conflict: codes.FailedPrecondition,
	// The disk is below its floor: out of a resource, retry once freed.
	errcode.InsufficientStorage: codes.ResourceExhausted,
	errcode.Unavailable:         codes.Unavailable,
}

// statusOf is err as a gRPC status. Errors that are not engine errors are
// internal: their text goes to the log, not to the client.
func statusOf(err error, log zerolog.Logger, method string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status (the transport's own)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	var e *errcode.Error
	if errors.As(err, &e) && e.Kind != errcode.Internal {
		return status.Error(codeOf[e.Kind], e.Message)
	}
	log.Error().Err(err).Str("method", method).Msg("gRPC API internal error")
	return status.Error(codes.Internal, "internal error")
}
