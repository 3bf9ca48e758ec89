package s3store

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// reader reads an object with one GET, issued at the first Read with a
// Range from the offset seeked to: a ranged pull fetches only its bytes.
type reader struct {
	ctx  context.Context
	s    *Store
	key  string
	off  int64
	body io.ReadCloser
}

func (r *reader) Read(p []byte) (int, error) {
	if r.body == nil {
		in := &s3.GetObjectInput{Bucket: &r.s.cfg.Bucket, Key: &r.key}
		if r.off > 0 {
			in.Range = aws.String("bytes=" + strconv.FormatInt(r.off, 10) + "-")
		}
		out, err := r.s.c.GetObject(r.ctx, in)
		if err != nil {
			return 0, wrap(err)
		}
		r.body = out.Body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err != nil && err != io.EOF {
		err = wrap(err)
	}
	return n, err
}

// Seek moves the offset before the first Read; the GET has no way to move
// after it started.
func (r *reader) Seek(off int64, whence int) (int64, error) {
	if r.body != nil {
		return r.off, errors.New("s3store: seek after read")
	}
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
	r.off = off
	return off, nil
}

func (r *reader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
