package s3store_test

import (
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobtest"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3test"
)

var buckets atomic.Int64

func newStore(t *testing.T, srv *s3test.Server) (*s3store.Store, s3store.Config) {
	cfg := srv.Bucket(t, fmt.Sprintf("mcr-%d", buckets.Add(1)))
	cfg.Prefix = "reg/"
	s, err := s3store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

func TestSuite(t *testing.T) {
	srv := s3test.Start(t)
	blobtest.Run(t, func(t *testing.T) blobstore.Store {
		s, _ := newStore(t, srv)
		return s
	})
}

// A removed staging leaves no multipart upload and no object behind.
func TestRemoveStagingAbortsMultipart(t *testing.T) {
	srv := s3test.Start(t)
	s, cfg := newStore(t, srv)
	ctx := t.Context()
	id := "0123456789abcdef0123456789abcdef"
	w, err := s.Stage(ctx, id, blobstore.Position{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, s3store.MinPartSize+100)
	_, _ = rand.Read(data)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	c := s3test.Client(cfg)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("multipart uploads before removal: %d, %v; want 1", len(ups.Uploads), err)
	}
	if err := s.RemoveStaging(ctx, id); err != nil {
		t.Fatal(err)
	}
	ups, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("multipart uploads after removal: %d, %v; want 0", len(ups.Uploads), err)
	}
	objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(objs.Contents) != 0 {
		t.Fatalf("objects after removal: %d, %v; want 0", len(objs.Contents), err)
	}
}
