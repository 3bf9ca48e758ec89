//go:build !linux

package reqctx

// canLowat is false: elsewhere the mark's effect on the poller is not
// relied on, and bodies are read without one.
const canLowat = false

func setLowat(uintptr, int) error { return nil }
