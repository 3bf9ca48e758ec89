package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
)

func TestGCConfig(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.GC.Grace.Duration != time.Hour || c.GC.Interval.Duration != 24*time.Hour || c.GC.DeleteUntagged ||
		c.GC.UploadExpiry.Duration != 24*time.Hour || c.Jobs.Workers != 2 {
		t.Fatalf("defaults %+v %+v", c.GC, c.Jobs)
	}
	c, err := Load("", []string{"MCR_GC_GRACE=5m", "MCR_GC_DELETE_UNTAGGED=true", "MCR_JOBS_VLOG_INTERVAL=0s", "MCR_GC_INTERVAL=0s"})
	if err != nil || c.GC.Grace.Duration != 5*time.Minute || !c.GC.DeleteUntagged || c.Jobs.VlogInterval.Duration != 0 || c.GC.Interval.Duration != 0 {
		t.Fatalf("env: %+v %+v %v", c.GC, c.Jobs, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("0s intervals disable schedules and are valid: %v", err)
	}
	c.GC.Grace.Duration = -time.Second
	c.GC.UploadExpiry.Duration = time.Second
	c.GC.Workers = 0
	c.Jobs.Workers = 0
	err = c.Validate()
	for _, key := range []string{"gc.grace", "gc.upload_expiry", "gc.workers", "jobs.workers"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate does not report %s: %v", key, err)
		}
	}
}

func TestOfflineGC(t *testing.T) {
	dir := t.TempDir()
	opened := enginetest.Open(t, dir)
	store, blobs := opened.KV, opened.Blobs
	reg := engine.New(store, blobs, engine.Options{})
	data := []byte("an unreferenced layer")
	d := digest.FromBytes(data)
	if err := reg.PutBlob(context.Background(), "a", d, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	_ = reg.Close(context.Background())

	c := Defaults()
	c.Data = dir
	// The server holds the store: the offline command must refuse.
	var out bytes.Buffer
	if err := offlineGC(context.Background(), c, false, false, &out); err == nil || !strings.Contains(err.Error(), "server running") {
		t.Fatalf("offline gc on an open store: %v", err)
	}
	_ = store.Close()

	out.Reset()
	if err := offlineGC(context.Background(), c, true, false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dry run") || !strings.Contains(out.String(), "kept       1 unreferenced") {
		t.Fatalf("dry run with the default grace:\n%s", out.String())
	}
	c.GC.Grace = Duration{0}
	out.Reset()
	if err := offlineGC(context.Background(), c, false, true, &out); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Swept     int   `json:"swept"`
		Reclaimed int64 `json:"reclaimed_bytes"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Swept != 1 || rep.Reclaimed != int64(len(data)) {
		t.Fatalf("report %s: %v", out.String(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.Encoded()[:2], d.Encoded())); !os.IsNotExist(err) {
		t.Fatalf("blob file after gc: %v", err)
	}
}
