package diskspace

import (
	"errors"
	"syscall"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Classify turns the filesystem's own out-of-space errors (ENOSPC, and
// EDQUOT for a quota) into errcode.InsufficientStorage, so that a write
// that met a full disk before any floor did (no monitor, another process
// filling the disk between two checks) is still a 507 and not a 500.
// Other errors pass through.
func Classify(err error) error {
	if err != nil && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		return errcode.Wrap(errcode.InsufficientStorage, err, "registry storage is full: no space left on the device")
	}
	return err
}
