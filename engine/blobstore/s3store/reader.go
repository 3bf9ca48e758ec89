package s3store

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"
)

// Reader opens blob d with a GET, at once: a missing object or a store
// that does not answer is found before the caller answers its client. A
// Seek to another offset closes that GET and issues one with a Range
// from there, so a ranged pull fetches only its bytes.
func (s *Store) Reader(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	r := &reader{ctx: ctx, s: s, key: s.blobKey(d)}
	if err := r.fetch(); err != nil {
		return nil, err
	}
	return r, nil
}

type reader struct {
	ctx  context.Context
	s    *Store
	key  string
	off  int64
	body io.ReadCloser
}

func (r *reader) fetch() error {
	in := &s3.GetObjectInput{Bucket: &r.s.cfg.Bucket, Key: &r.key}
	if r.off > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(r.off, 10) + "-")
	}
	out, err := r.s.c.GetObject(r.ctx, in)
	if err != nil {
		return wrap(err)
	}
	r.body = out.Body
	return nil
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err != nil && err != io.EOF {
		err = wrap(err)
	}
	return n, err
}

// Seek re-issues the GET from the new offset.
func (r *reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	default:
		return r.off, errors.New("s3store: seek from the end is not supported")
	}
	if off < 0 {
		return r.off, errors.New("s3store: negative offset")
	}
	if off == r.off {
		return off, nil
	}
	_ = r.body.Close()
	r.off = off
	return off, r.fetch()
}

func (r *reader) Close() error { return r.body.Close() }
