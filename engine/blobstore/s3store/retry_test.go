package s3store_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/s3store"
)

// The answer versitygw's posix backend gives a put whose parent directory
// a concurrent delete removed: a retry must follow, not a failed upload.
// The server answers the first PUT with it, then every PUT with success.
func TestPutRetriesDirectoryRace(t *testing.T) {
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "unexpected "+r.Method, http.StatusBadRequest)
			return
		}
		if puts.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExistingObjectIsDirectory</Code><Message>Existing Object is a directory.</Message></Error>`))
			return
		}
		w.Header().Set("ETag", `"0"`)
	}))
	defer srv.Close()
	s, err := s3store.New(s3store.Config{Endpoint: srv.URL, Bucket: "b", Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s", PartSize: s3store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Stage(context.Background(), "u1", blobstore.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("tail bytes")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Sync(context.Background()); err != nil {
		t.Fatalf("Sync after one ExistingObjectIsDirectory answer: %v", err)
	}
	if n := puts.Load(); n != 2 {
		t.Fatalf("%d PUTs, want 2 (the refused one and its retry)", n)
	}
}
