package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigLayers(t *testing.T) {
	c, err := Load("", nil)
	if err != nil || c.Addr != "127.0.0.1:5000" || c.Data != "./mcr-data" || c.Validate() != nil {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("addr = \"127.0.0.1:6000\"\n[http]\nread_timeout = \"5s\"\n[manifest]\nallow_sparse = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path, []string{"MCR_HTTP_READ_TIMEOUT=7s", "MCR_DATA=/srv/mcr", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:6000" || c.Data != "/srv/mcr" || c.HTTP.ReadTimeout.Duration != 7*time.Second || !c.Manifest.AllowSparse {
		t.Errorf("file+env: %+v", c)
	}
	if c.HTTP.WriteTimeout != Defaults().HTTP.WriteTimeout {
		t.Error("a key absent from the file lost its default")
	}
}

func TestConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	_ = os.WriteFile(path, []byte("adr = \"x\"\n"), 0o600)
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), "adr") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Load("", []string{"MCR_MANIFEST_ALLOW_SPARSE=maybe"}); err == nil {
		t.Error("bad bool accepted")
	}
	c := Defaults()
	c.Addr, c.Log.Level, c.HTTP.IdleTimeout.Duration = "nope", "loud", 0
	err := c.Validate()
	for _, want := range []string{"addr", "log.level", "http.idle_timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
}
