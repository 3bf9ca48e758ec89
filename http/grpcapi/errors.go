package grpcapi

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// codeOf is each kind's gRPC code, read once from the code name the kind
// is registered with (engine/errcode, which imports no gRPC). A name
// gRPC does not know becomes Unknown; TestEveryKindMapped keeps that from
// happening.
var codeOf = func() map[errcode.Kind]codes.Code {
	m := make(map[errcode.Kind]codes.Code)
	for _, k := range errcode.Kinds() {
		var c codes.Code
		if err := c.UnmarshalJSON([]byte(`"` + k.Describe().GRPC + `"`)); err != nil {
			c = codes.Unknown
		}
		m[k] = c
	}
	return m
}()

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
	kind, msg, _ := errcode.Public(err)
	if kind == errcode.Internal {
		log.Error().Err(err).Str("method", method).Msg("gRPC API internal error")
	}
	return status.Error(codeOf[kind], msg)
}
