//go:build !linux

package kv

import "errors"

// dirWatch has no implementation here: logSync lists the directory on
// every sync (logwatch_linux.go says why it watches where it can).
type dirWatch struct{}

func watchDir(string) (*dirWatch, error) { return nil, errors.ErrUnsupported }

func (*dirWatch) changed() bool { return true }

func (*dirWatch) close() {}
