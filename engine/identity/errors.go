package identity

import (
	"errors"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Reasons a login fails. Clients see one message for all of them (so a
// caller cannot probe which names exist or are disabled); the reason is
// kept as the cause, for logs and audit events.
var (
	ErrUnknownAccount = errors.New("unknown account")
	ErrBadPassword    = errors.New("wrong password")
	ErrDisabled       = errors.New("account disabled")
	ErrBadKey         = errors.New("unknown or revoked access key")
	ErrNoPassword     = errors.New("account has no password")
)

func badCredentials(reason error) error {
	return errcode.Wrap(errcode.Unauthorized, reason, "invalid username or password")
}

// Token failures, for the invalid_token challenge.
var (
	ErrTokenInvalid = errors.New("invalid token")
)

func invalidToken(reason error) error {
	return errcode.Wrap(errcode.Unauthorized, reason, "invalid or expired token")
}
