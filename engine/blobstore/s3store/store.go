package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
)

// MinPartSize is the smallest part S3 accepts (but for the last).
const MinPartSize = 5 << 20

// MaxCopySize is the largest object one CopyObject copies, and the largest
// part UploadPartCopy takes: 5 GiB (S3's limits).
const MaxCopySize = 5 << 30

// Config says which bucket to use and how to reach it.
type Config struct {
	Endpoint        string // e.g. http://127.0.0.1:7070; empty: the SDK's default for Region
	Bucket          string
	Region          string
	Prefix          string // key prefix, e.g. "mcr/"
	AccessKeyID     string // empty: AWS_ACCESS_KEY_ID
	SecretAccessKey string // empty: AWS_SECRET_ACCESS_KEY
	PartSize        int64
	// CopySize is the largest staged object Commit copies with one
	// CopyObject; a larger one is copied by UploadPartCopy in parts of
	// CopySize. 0 is MaxCopySize, S3's limit; tests lower it (at least
	// MinPartSize) to run the multipart copy without a 5 GiB blob.
	CopySize int64
	// Redirect makes the store a blobstore.Presigner: pulls are sent to
	// a presigned URL valid for PresignExpiry.
	Redirect      bool
	PresignExpiry time.Duration
}

// Store is the S3 blob store.
type Store struct {
	c       *s3.Client
	presign *s3.PresignClient
	cfg     Config
}

// New returns the store for cfg. It does not contact the bucket: Ping does.
func New(cfg Config) (*Store, error) {
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3store: part size %d is below S3's minimum of %d", cfg.PartSize, MinPartSize)
	}
	switch {
	case cfg.CopySize == 0:
		cfg.CopySize = MaxCopySize
	case cfg.CopySize < MinPartSize || cfg.CopySize > MaxCopySize:
		return nil, fmt.Errorf("s3store: copy size %d is outside S3's part limits [%d, %d]", cfg.CopySize, MinPartSize, MaxCopySize)
	}
	if cfg.PresignExpiry <= 0 {
		cfg.PresignExpiry = 5 * time.Minute
	}
	id, secret := cfg.AccessKeyID, cfg.SecretAccessKey
	if id == "" && secret == "" {
		id, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	opts := s3.Options{
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")),
		// Checksums only where S3 requires them: other S3 servers do not
		// all accept the SDK's default trailing checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Retryer:                    retry.NewStandard(retryDirectoryRace),
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	c := s3.New(opts)
	return &Store{c: c, presign: s3.NewPresignClient(c), cfg: cfg}, nil
}

// retryDirectoryRace adds to the SDK's retryable answers the one that
// S3 servers keeping objects as files (versitygw's posix backend) give
// when a write's parent directory is removed under it: a delete of the
// last object under a prefix (uploads/, a blob's fan-out directory)
// removes the emptied directories while a put under the same prefix is
// creating them again, and the put fails "ExistingObjectIsDirectory".
// mcr never writes a key that is a prefix of another, so on S3 proper the
// answer cannot mean a real conflict, and a retry finds the directory
// made again (TestPutRetriesDirectoryRace).
func retryDirectoryRace(o *retry.StandardOptions) {
	o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: map[string]struct{}{"ExistingObjectIsDirectory": {}}})
}

// Ping checks that the bucket answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket})
	return wrap(err)
}

func (s *Store) blobKey(d digest.Digest) string {
	h := d.Encoded()
	return s.cfg.Prefix + "blobs/" + d.Algorithm().String() + "/" + h[:2] + "/" + h
}

func (s *Store) stagingDir(id string) string { return s.cfg.Prefix + "uploads/" + id + "/" }

// Stat answers from a HEAD of the object.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blobstore.Info, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.blobKey(d))})
	if err != nil {
		return blobstore.Info{}, wrap(err)
	}
	return blobstore.Info{Size: aws.ToInt64(out.ContentLength), Modified: aws.ToTime(out.LastModified)}, nil
}

// Delete removes blob d (S3's DELETE of an absent key succeeds).
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.blobKey(d))})
	return wrap(err)
}

// Walk lists blobs/ page by page (ListObjectsV2).
func (s *Store) Walk(ctx context.Context, fn func(digest.Digest) error) error {
	prefix := s.cfg.Prefix + "blobs/"
	return s.list(ctx, prefix, func(o types.Object) error {
		alg, rest, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
		_, hex, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 {
			return nil // not ours
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
		if d.Validate() != nil {
			return nil
		}
		return fn(d)
	})
}

func (s *Store) list(ctx context.Context, prefix string, fn func(types.Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// Redirecting is the store with pulls redirected (Config.Redirect): it is
// a blobstore.Presigner, which the plain Store is not, so the engine finds
// the capability only when it is configured.
type Redirecting struct{ *Store }

// PresignGet returns a GET URL for blob d valid for the configured expiry;
// the store honours Range on it.
func (r Redirecting) PresignGet(ctx context.Context, d digest.Digest) (string, error) {
	req, err := r.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &r.cfg.Bucket, Key: aws.String(r.blobKey(d))},
		s3.WithPresignExpires(r.cfg.PresignExpiry))
	if err != nil {
		return "", wrap(err)
	}
	return req.URL, nil
}

// Port returns the store as the engine should see it: Redirecting when
// redirects are configured.
func (s *Store) Port() blobstore.Store {
	if s.cfg.Redirect {
		return Redirecting{s}
	}
	return s
}

func (s *Store) putObject(ctx context.Context, key string, b []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
	return wrap(err)
}

func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err = wrap(err); errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// wrap maps S3's answers to the port's errors: a missing key is
// blobstore.ErrNotFound; anything that is not an answer from S3 about the
// request itself (a connection refused, a 5xx) is ErrUnavailable.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", blobstore.ErrNotFound, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return fmt.Errorf("%w: %w", blobstore.ErrNotFound, err)
		case "InternalError", "ServiceUnavailable", "SlowDown":
			return fmt.Errorf("%w: %w", blobstore.ErrUnavailable, err)
		}
		return fmt.Errorf("s3store: %w", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", blobstore.ErrUnavailable, err)
}

var (
	_ blobstore.Store     = (*Store)(nil)
	_ blobstore.Presigner = Redirecting{}
)
