package gc

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
)

// A multipart copy whose abort failed leaves an upload at a blob's key,
// outside uploads/: upload expiry aborts it once older than the expiry,
// and leaves it while younger (a copy that may still be running).
func TestUploadExpiryAbortsStrayCopies(t *testing.T) {
	o := defaults()
	o.s3 = true
	e := newEnv(t, o)
	c := s3test.Client(e.s3cfg)
	blobKey := "blobs/sha256/ab/ab" + strings.Repeat("0", 62)
	if _, err := c.CreateMultipartUpload(e.ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(e.s3cfg.Bucket), Key: aws.String(blobKey)}); err != nil {
		t.Fatal(err)
	}
	uploads := func() []string {
		t.Helper()
		out, err := c.ListMultipartUploads(e.ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(e.s3cfg.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		return keys
	}
	if rep, err := e.gc.ExpireUploads(e.ctx, RunOptions{}); err != nil || rep.UploadsExpired != 0 {
		t.Fatalf("expiry with a young stray copy: %+v %v", rep, err)
	}
	if got := uploads(); len(got) != 1 || got[0] != blobKey {
		t.Fatalf("multipart uploads after expiring nothing: %v, want the copy's", got)
	}
	e.clock.Add(o.gc.UploadExpiry + time.Minute)
	if rep, err := e.gc.ExpireUploads(e.ctx, RunOptions{DryRun: true}); err != nil || rep.UploadsExpired < 1 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if got := uploads(); len(got) != 1 {
		t.Fatalf("the dry run removed %v", got)
	}
	if _, err := e.gc.ExpireUploads(e.ctx, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := uploads(); len(got) != 0 {
		t.Fatalf("multipart uploads after the expiry: %v, want none", got)
	}
}
