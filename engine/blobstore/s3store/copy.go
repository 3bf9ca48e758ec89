package s3store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

var _ blobstore.StrayMultiparts = (*Store)(nil)

// copyObject copies the size bytes at src to dst inside the bucket. S3's
// CopyObject stops at 5 GiB, so an object larger than Config.CopySize is
// copied as a multipart upload of UploadPartCopy ranges instead; dst
// appears only when that upload completes, whole, so a failed copy leaves
// no partial object at a blob's key (the upload is aborted).
func (s *Store) copyObject(ctx context.Context, src, dst string, size int64) error {
	source := aws.String(s.cfg.Bucket + "/" + src)
	if size <= s.cfg.CopySize {
		_, err := s.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.cfg.Bucket, Key: &dst, CopySource: source})
		return wrap(err)
	}
	up, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &dst})
	if err != nil {
		return wrap(err)
	}
	id := up.UploadId
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+s.cfg.CopySize, n+1 {
		end := min(off+s.cfg.CopySize, size) - 1
		out, err := s.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &s.cfg.Bucket, Key: &dst, UploadId: id,
			PartNumber: aws.Int32(n), CopySource: source, CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			return s.abortCopy(ctx, dst, id, wrap(err))
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.CopyPartResult.ETag})
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &dst,
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return s.abortCopy(ctx, dst, id, wrap(err))
	}
	return nil
}

// abortCopy drops a multipart copy that failed, so that it leaves no
// parts billed in the bucket, and returns the failure. The abort runs even
// when ctx is cancelled (a client gone is the usual reason for failing).
// If the abort fails too, the upload stays at the blob's key, where the
// staging walk does not look: upload expiry finds it with
// AbortStrayMultiparts.
func (s *Store) abortCopy(ctx context.Context, key string, id *string, failed error) error {
	_, _ = s.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: id})
	return failed
}

// AbortStrayMultiparts implements blobstore.StrayMultiparts: it aborts the
// multipart uploads under blobs/ initiated before before (dry: counts
// them). Every such upload is a copy's (copyObject): a blob's key gets a
// multipart upload from nothing else, and a copy still running is younger
// than any cutoff upload expiry uses.
func (s *Store) AbortStrayMultiparts(ctx context.Context, before time.Time, dry bool) (int, error) {
	n := 0
	err := s.multiparts(ctx, s.cfg.Prefix+"blobs/", func(u types.MultipartUpload) error {
		if !aws.ToTime(u.Initiated).Before(before) {
			return nil
		}
		n++
		if dry {
			return nil
		}
		_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: u.Key, UploadId: u.UploadId})
		if err = wrap(err); errors.Is(err, blobstore.ErrNotFound) {
			return nil // aborted meanwhile
		}
		return err
	})
	return n, err
}
