package engine

import (
	"io"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Space admits writes that add data (diskspace.Monitor): Admit refuses,
// with errcode.InsufficientStorage, need more bytes that would take a
// filesystem the registry writes below its floor.
type Space interface {
	Admit(need int64) error
}

// admit asks Options.Space for room for need more bytes before a write
// that adds data starts: an upload, a manifest push, a mount.
func (r *Registry) admit(need int64) error {
	if r.opts.Space == nil {
		return nil
	}
	return r.opts.Space.Admit(max(need, 0))
}

// spaceWriter is an upload's staging file seen through the floor: each
// buffer is admitted before it is written, so a body that crosses the
// floor mid-stream is refused at the next buffer (1–4 MiB past it at
// most) instead of running into ENOSPC; and ENOSPC itself, should
// another process fill the disk between two checks, is a 507 too.
type spaceWriter struct {
	w     io.Writer
	space Space // nil: no floor, only ENOSPC is classified
}

func (r *Registry) guard(w io.Writer) spaceWriter { return spaceWriter{w: w, space: r.opts.Space} }

func (s spaceWriter) Write(p []byte) (int, error) {
	if s.space != nil {
		if err := s.space.Admit(int64(len(p))); err != nil {
			return 0, err
		}
	}
	n, err := s.w.Write(p)
	return n, diskspace.Classify(err)
}

// AllowDirect passes the pipeline's direct I/O opt-in to the file.
func (s spaceWriter) AllowDirect() {
	if d, ok := s.w.(directWriter); ok {
		d.AllowDirect()
	}
}

// isFull reports a refusal for lack of space.
func isFull(err error) bool { return errcode.KindOf(err) == errcode.InsufficientStorage }
