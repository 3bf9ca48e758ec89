package s3store_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

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

// A staged object larger than Config.CopySize is committed by a multipart
// UploadPartCopy (CopyObject stops at 5 GiB): the blob has the exact
// bytes, its ETag is a multipart one of the expected part count, and no
// multipart upload or staging object is left.
func TestCommitLargerThanCopySize(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Bucket(t, "mcr-copy")
	cfg.CopySize = s3store.MinPartSize
	s, err := s3store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := make([]byte, 2*s3store.MinPartSize+12345) // three copy parts, the last short
	_, _ = rand.Read(data)
	d := digest.FromBytes(data)
	id := "00112233445566778899aabbccddeeff"
	w, err := s.Stage(ctx, id, blobstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	r, err := s.Reader(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	_ = r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob read back: %d bytes (digest %s), want %d (%s): %v", len(got), digest.FromBytes(got), len(data), d, err)
	}
	c := s3test.Client(cfg)
	h := d.Encoded()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String("blobs/sha256/" + h[:2] + "/" + h)})
	if err != nil {
		t.Fatal(err)
	}
	if etag := strings.Trim(aws.ToString(head.ETag), `"`); !strings.HasSuffix(etag, "-3") {
		t.Errorf("blob ETag %s: want a multipart ETag of 3 parts (the UploadPartCopy path)", etag)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("multipart uploads after commit: %d, %v; want 0", len(ups.Uploads), err)
	}
	if _, err := s.StatStaging(ctx, id); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("staging after commit: %v, want ErrNotFound", err)
	}
	if _, err := s3store.New(s3store.Config{Bucket: "b", Region: "r", PartSize: s3store.MinPartSize, CopySize: s3store.MinPartSize - 1}); err == nil {
		t.Error("a copy size below S3's smallest part is accepted")
	}
}

// Commit removes exactly what the session staged, without listing the
// staging area: a small blob costs one HEAD and one PUT, and a session of
// chunks with parts and tails leaves no object and no multipart upload,
// whether its blob is new or already stored (the upload is aborted).
func TestCommitRemovesWithoutListing(t *testing.T) {
	srv := s3test.Start(t)
	s, cfg := newStore(t, srv)
	ops := s3store.CountRequests(s)
	ctx := t.Context()
	small := []byte("a small layer")
	w, err := s.Stage(ctx, "0123456789abcdef0123456789abcdef", blobstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(small); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, digest.FromBytes(small)); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if got, want := ops(), map[string]int{"HeadObject": 1, "PutObject": 1}; !maps.Equal(got, want) {
		t.Fatalf("requests for a small blob: %v, want %v", got, want)
	}

	data := make([]byte, s3store.MinPartSize+3*1000)
	_, _ = rand.Read(data)
	d := digest.FromBytes(data)
	for _, id := range []string{"00000000000000000000000000000001", "00000000000000000000000000000002"} {
		pos := blobstore.Position{Durable: true}
		for _, chunk := range [][]byte{data[:1000], data[1000 : s3store.MinPartSize+1000], data[s3store.MinPartSize+1000 : s3store.MinPartSize+2000], data[s3store.MinPartSize+2000:]} {
			w, err := s.Stage(ctx, id, pos)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
			st, err := w.Sync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = w.Close()
			pos = blobstore.Position{Offset: pos.Offset + int64(len(chunk)), State: st, Durable: true}
		}
		w, err := s.Stage(ctx, id, pos)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx, d); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
	}
	for op := range ops() {
		if strings.HasPrefix(op, "List") {
			t.Errorf("pushes sent %s: %v", op, ops())
		}
	}
	c := s3test.Client(cfg)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("multipart uploads after commit: %d, %v; want 0", len(ups.Uploads), err)
	}
	objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket)})
	if err != nil || len(objs.Contents) != 2 {
		t.Fatalf("objects after commit: %d, %v; want the 2 blobs", len(objs.Contents), err)
	}
	for _, o := range objs.Contents {
		if !strings.HasPrefix(aws.ToString(o.Key), "reg/blobs/") {
			t.Errorf("object %s left after commit", aws.ToString(o.Key))
		}
	}
}

// A writer's buffer grows with the bytes it receives: staging a small
// layer allocates far less than a part (it used to allocate and zero a
// whole part per upload, most of the server's CPU on S3). Neither Stage
// of a new staging nor a Write short of a part sends a request, so the
// process's allocation counter measures only the writer.
func TestSmallWriteAllocatesLittle(t *testing.T) {
	s, err := s3store.New(s3store.Config{Bucket: "b", Region: "r", PartSize: 4 * s3store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4096)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := s.Stage(t.Context(), "0123456789abcdef0123456789abcdef", blobstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	_ = w.Close()
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("staging %d bytes allocated %d bytes", len(data), n)
	}
}
