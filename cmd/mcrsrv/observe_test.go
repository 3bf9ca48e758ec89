package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/http/metrics"
)

func TestMetricsConfigKey(t *testing.T) {
	if Defaults().Metrics.RequireAuth {
		t.Error("metrics require auth by default")
	}
	c, err := Load("", []string{"MCR_METRICS_REQUIRE_AUTH=true"})
	if err != nil || !c.Metrics.RequireAuth {
		t.Errorf("MCR_METRICS_REQUIRE_AUTH: %+v %v", c.Metrics, err)
	}
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("[metrics]\nrequire_auth = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path, nil); err != nil || !c.Metrics.RequireAuth {
		t.Errorf("metrics.require_auth: %+v %v", c.Metrics, err)
	}
}

func TestReadiness(t *testing.T) {
	data := t.TempDir()
	opened := enginetest.Open(t, data)
	store, blobs := opened.KV, opened.Blobs
	ready := readiness(store, data, nil, blobs)
	if err := ready(); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	// A data path that is a file, not a directory: no probe can be created
	// there, even as root.
	file := filepath.Join(data, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := readiness(store, file, nil, blobs)(); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Errorf("data path is a file: %v", err)
	}
	// A disk below its floor is degraded, not down.
	full, err := diskspace.New(diskspace.Options{
		Dirs:    []diskspace.Dir{{Name: "data", Path: data}},
		MinFree: diskspace.Floor{Amount: 1 << 62}, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var d *metrics.Degraded
	if err := readiness(store, data, full, blobs)(); !errors.As(err, &d) || !strings.Contains(d.Reason, "below its floor") {
		t.Errorf("disk below its floor: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ready(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("closed store: %v", err)
	}
}
