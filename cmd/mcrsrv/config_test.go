package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
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
	// The audit caps have defaults and environment variables.
	if d := Defaults().Audit; d.MaxCount <= 0 || d.MaxBytes.Bytes == 0 {
		t.Errorf("audit caps without defaults: %+v", d)
	}
	if Defaults().Auth.loginCacheTTL() != 30*time.Second {
		t.Error("login cache TTL default")
	}
	if c, err := Load("", []string{"MCR_AUTH_LOGIN_CACHE_TTL=0s"}); err != nil || c.Auth.loginCacheTTL() >= 0 {
		t.Errorf("auth.login_cache_ttl 0 does not turn the cache off: %v", err)
	}
	c, err = Load("", []string{"MCR_AUDIT_MAX_BYTES=64MiB", "MCR_AUDIT_MAX_COUNT=1000"})
	if err != nil || c.Audit.MaxBytes.Bytes != 64<<20 || c.Audit.MaxCount != 1000 || c.Audit.retention().MaxBytes != 64<<20 {
		t.Errorf("audit caps from the environment: %+v %v", c.Audit, err)
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
	c.Addr, c.Log.Level, c.HTTP.IdleTimeout.Duration, c.Storage.Sync = "nope", "loud", 0, "sometimes"
	err := c.Validate()
	for _, want := range []string{"addr", "log.level", "http.idle_timeout", "storage.sync"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
}

// TestConfigMaxHeaderSize: http.max_header_size takes a size from the
// environment and refuses one outside 4 KiB to 1 MiB.
func TestConfigMaxHeaderSize(t *testing.T) {
	c, err := Load("", []string{"MCR_HTTP_MAX_HEADER_SIZE=16KiB"})
	if err != nil || c.HTTP.MaxHeaderSize.Bytes != 16<<10 {
		t.Fatalf("16KiB: %+v %v", c.HTTP.MaxHeaderSize, err)
	}
	for _, bad := range []string{"2KiB", "2MiB"} {
		c, err := Load("", []string{"MCR_HTTP_MAX_HEADER_SIZE=" + bad})
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "http.max_header_size") {
			t.Errorf("%s: %v, want a complaint about http.max_header_size", bad, err)
		}
	}
}

func TestConfigMemoryLimit(t *testing.T) {
	// With no configuration at all the documented limit applies
	// (docs/operations.md: 192MiB), and it passes validation.
	if c, err := Load("", nil); err != nil || c.Memory.Limit.Bytes != 192<<20 || c.Validate() != nil {
		t.Errorf("default memory.limit %d, %v", c.Memory.Limit.Bytes, err)
	}
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("[memory]\nlimit = \"256MiB\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil || c.Memory.Limit.Bytes != 256<<20 {
		t.Fatalf("file: %d %v", c.Memory.Limit.Bytes, err)
	}
	c, err = Load(path, []string{"MCR_MEMORY_LIMIT=1GiB"})
	if err != nil || c.Memory.Limit.Bytes != 1<<30 {
		t.Fatalf("env over file: %d %v", c.Memory.Limit.Bytes, err)
	}
	if _, err := Load("", []string{"MCR_MEMORY_LIMIT=lots"}); err == nil {
		t.Error("unparsable size accepted")
	}
	c = Defaults()
	c.Memory.Limit.Bytes = 1 << 20
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "memory.limit") {
		t.Errorf("1 MiB limit: %v", err)
	}
	c.Memory.Limit.Bytes = 0
	if err := c.Validate(); err != nil {
		t.Errorf("limit off: %v", err)
	}

	// apply sets the runtime's limit, unless GOMEMLIMIT is set.
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	MemoryConfig{Limit: Size{300 << 20}}.apply(zerolog.Nop())
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("limit after apply: %d", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	MemoryConfig{Limit: Size{200 << 20}}.apply(zerolog.Nop())
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("memory.limit overrode GOMEMLIMIT: %d", got)
	}
}

// TestStorageSync checks the storage.sync modes: file opens no barrier,
// group opens one over the data directory (on Linux) that the metadata
// store and the blob store then share.
func TestStorageSync(t *testing.T) {
	c, err := Load("", []string{"MCR_STORAGE_SYNC=file"})
	if err != nil || c.Storage.Sync != syncFile || Defaults().Storage.Sync != syncGroup {
		t.Fatalf("storage.sync from env = %q, %v; default %q", c.Storage.Sync, err, Defaults().Storage.Sync)
	}
	dir := t.TempDir()
	log := zerolog.Nop()
	if b, err := c.Storage.barrier(dir, filepath.Join(dir, "meta"), log); err != nil || b != nil {
		t.Fatalf("file mode: barrier %v, %v", b, err)
	}
	b, err := Defaults().Storage.barrier(dir, filepath.Join(dir, "meta"), log)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && b == nil {
		t.Fatal("group mode on Linux opened no barrier")
	}
	if b != nil {
		defer b.Close()
		if err := b.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConfigLifecycleKeys: the drain and the upload limits come from their
// variables, and Validate refuses a drain that leaves requests no time.
func TestConfigLifecycleKeys(t *testing.T) {
	c, err := Load("", []string{"MCR_HTTP_DRAIN=5s", "MCR_UPLOADS_IDLE_TIMEOUT=20s", "MCR_UPLOADS_PER_ACCOUNT=4"})
	if err != nil || c.Validate() != nil {
		t.Fatalf("%v %v", err, c.Validate())
	}
	if c.HTTP.Drain.Duration != 5*time.Second || c.Uploads.IdleTimeout.Duration != 20*time.Second || c.Uploads.PerAccount != 4 {
		t.Errorf("env: drain %s, idle %s, per account %d", c.HTTP.Drain, c.Uploads.IdleTimeout, c.Uploads.PerAccount)
	}
	c.HTTP.Drain = c.HTTP.ShutdownTimeout
	c.Uploads.IdleTimeout.Duration = 0
	c.Uploads.PerAccount = -1
	err = c.Validate()
	for _, want := range []string{"http.drain", "uploads.idle_timeout", "uploads.per_account"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a complaint about %s", err, want)
		}
	}
}

func TestConfigTrustedProxies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil || len(c.HTTP.TrustedProxies) != 2 || c.Validate() != nil {
		t.Fatalf("file: %q %v %v", c.HTTP.TrustedProxies, err, c.Validate())
	}
	c, err = Load(path, []string{"MCR_HTTP_TRUSTED_PROXIES=127.0.0.1, 192.168.0.0/16,"})
	if err != nil || strings.Join(c.HTTP.TrustedProxies, "|") != "127.0.0.1|192.168.0.0/16" {
		t.Fatalf("env overrides the file: %q %v", c.HTTP.TrustedProxies, err)
	}
	if len(Defaults().HTTP.TrustedProxies) != 0 {
		t.Error("proxies are trusted by default")
	}
	c.HTTP.TrustedProxies = []string{"10.0.0.0/33", "proxy.example.com"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http.trusted_proxies") || !strings.Contains(err.Error(), "proxy.example.com") {
		t.Errorf("bad entries: %v", err)
	}
}

// TestStorageS3Config checks the storage.s3 keys from MCR_* variables and
// that each bad setting is one clear error.
func TestStorageS3Config(t *testing.T) {
	c, err := Load("", []string{"MCR_STORAGE_BACKEND=s3", "MCR_STORAGE_S3_ENDPOINT=http://127.0.0.1:9", "MCR_STORAGE_S3_BUCKET=b",
		"MCR_STORAGE_S3_REGION=r", "MCR_STORAGE_S3_PREFIX=mcr/", "MCR_STORAGE_S3_PART_SIZE=8MiB", "MCR_STORAGE_S3_REDIRECT=false",
		"MCR_STORAGE_S3_ACCESS_KEY_ID=id", "MCR_STORAGE_S3_SECRET_ACCESS_KEY=secret"})
	if err != nil {
		t.Fatal(err)
	}
	s3 := c.Storage.S3
	if c.Storage.Backend != backendS3 || s3.Endpoint != "http://127.0.0.1:9" || s3.Bucket != "b" || s3.Region != "r" || s3.Prefix != "mcr/" ||
		s3.PartSize.Bytes != 8<<20 || s3.Redirect || s3.AccessKeyID != "id" || s3.SecretAccessKey != "secret" {
		t.Fatalf("storage from env: %+v", c.Storage)
	}
	if d := Defaults().Storage; d.Backend != backendFS || d.S3.PartSize.Bytes != 16<<20 || !d.S3.Redirect {
		t.Fatalf("storage defaults: %+v", d)
	}
	bad, err := Load("", []string{"MCR_STORAGE_BACKEND=s3", "MCR_STORAGE_S3_ENDPOINT=ftp://x", "MCR_STORAGE_S3_PART_SIZE=1MiB",
		"MCR_STORAGE_S3_ACCESS_KEY_ID=id"})
	if err == nil {
		err = bad.Validate()
	}
	for _, want := range []string{"storage.s3.bucket", "storage.s3.region", "storage.s3.endpoint", "storage.s3.access_key_id", "storage.s3.part_size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad s3 settings: %v; want a message about %s", err, want)
		}
	}
	tape := Defaults()
	tape.Storage.Backend = "tape"
	if err := tape.Validate(); err == nil || !strings.Contains(err.Error(), "storage.backend") {
		t.Errorf("storage.backend=tape: %v", err)
	}
}

// TestStorageFloorKeys checks the disk-space keys: defaults, environment,
// TOML, and what Validate refuses.
func TestStorageFloorKeys(t *testing.T) {
	d := Defaults().Storage
	if d.MinFree.String() != "2%, 1.0GiB" || d.MinFreeInodes.CountString() != "1%, 10000" || d.Reserve.Bytes != 64<<20 {
		t.Fatalf("defaults %q %q %d", d.MinFree.String(), d.MinFreeInodes.CountString(), d.Reserve.Bytes)
	}
	c, err := Load("", []string{"MCR_STORAGE_MIN_FREE=5%", "MCR_STORAGE_MIN_FREE_INODES=500", "MCR_STORAGE_RESERVE=32MiB"})
	if err != nil || c.Storage.MinFree.Floor != (diskspace.Floor{Percent: 5}) ||
		c.Storage.MinFreeInodes.Floor != (diskspace.Floor{Amount: 500}) || c.Storage.Reserve.Bytes != 32<<20 {
		t.Fatalf("from env: %+v %v", c.Storage, err)
	}
	path := filepath.Join(t.TempDir(), "mcr.toml")
	if err := os.WriteFile(path, []byte("[storage]\nmin_free = \"1%, 500MiB\"\nreserve = \"0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(path, nil); err != nil || c.Storage.MinFree.Floor != (diskspace.Floor{Percent: 1, Amount: 500 << 20}) || c.Storage.Reserve.Bytes != 0 {
		t.Fatalf("from TOML: %+v %v", c.Storage, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("no reserve is valid: %v", err)
	}
	if _, err := Load("", []string{"MCR_STORAGE_MIN_FREE=lots"}); err == nil {
		t.Error("a bad floor was accepted")
	}
	c = Defaults()
	c.Storage.Reserve = Size{1 << 20}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "storage.reserve") {
		t.Errorf("a 1 MiB reserve: %v", err)
	}
}

// TestReleaseWhenIdle: memory is released at the first tick of a quiet
// spell that finds no new request, again while quiet only when goroutines
// have exited since the last release, and never while requests come.
func TestReleaseWhenIdle(t *testing.T) {
	var served, goroutines atomic.Int64
	goroutines.Store(100)
	tick := make(chan time.Time)
	freed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		releaseWhenIdle(ctx, tick, func() uint64 { return uint64(served.Load()) }, func() int { return int(goroutines.Load()) },
			func() { freed <- struct{}{} })
	}()
	step := func(requests, exited int64) {
		served.Add(requests)
		goroutines.Add(-exited)
		tick <- time.Now()
		tick <- time.Now() // the second send waits until the first tick is handled
	}
	for i, s := range []struct {
		requests, exited int64
		releases         int
	}{
		{0, 0, 0},  // idle from the start: nothing to release
		{5, 0, 1},  // busy, then a quiet tick: one release
		{0, 0, 0},  // still quiet, nothing exited: none more
		{0, 10, 1}, // still quiet, actors retired: one more
		{0, 0, 0},  // and no more after that
		{3, 10, 1}, // busy again (goroutines exiting meanwhile), then quiet: one
	} {
		step(s.requests, s.exited)
		if n := len(freed); n != s.releases {
			t.Fatalf("step %d: released %d times, want %d", i, n, s.releases)
		}
		for range s.releases {
			<-freed
		}
	}
	cancel()
	<-done
}
