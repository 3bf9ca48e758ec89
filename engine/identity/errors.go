package identity

import (
	"errors"
	"fmt"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Reasons a login fails. Clients see one message for all of them (so a
// caller cannot probe which names exist or are disabled); the reason is
// kept as the cause, for logs and audit events.
var (
	ErrUnknownAccount = badCredentials("unknown account")
	ErrBadPassword    = badCredentials("wrong password")
	ErrDisabled       = badCredentials("account disabled")
	ErrBadKey         = badCredentials("unknown or revoked access key")
	ErrNoPassword     = badCredentials("account has no password")
)

func badCredentials(reason string) *errcode.Error {
	return errcode.Wrap(errcode.Unauthorized, errors.New(reason), "invalid username or password")
}

// ErrTokenInvalid is a token that is malformed, expired, signed by no key
// of ours or of the wrong use: the invalid_token challenge.
var ErrTokenInvalid = errcode.Wrap(errcode.Unauthorized, errors.New("invalid token"), "invalid or expired token")

// invalidToken is ErrTokenInvalid with the reason a token was refused,
// for logs.
func invalidToken(reason error) error {
	return errcode.Wrap(errcode.Unauthorized, fmt.Errorf("%w: %w", ErrTokenInvalid, reason), "invalid or expired token")
}
