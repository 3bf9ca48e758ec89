package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A directory of the data tree that others may read gets one warning that
// names it and the fix; owner-only ones and absent ones get none.
func TestWarnLooseDirs(t *testing.T) {
	data := t.TempDir()
	for dir, mode := range map[string]os.FileMode{".": 0o755, "meta": 0o700, "blobs": 0o750, "uploads": 0o700} {
		p := filepath.Join(data, dir)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	warnLooseDirs(data, zerolog.New(&buf))
	out := buf.String()
	for _, want := range []string{`"path":"` + data + `"`, `"fix":"chmod 700 ` + data + `"`, `"fix":"chmod 700 ` + filepath.Join(data, "blobs") + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("warnings lack %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("%d warnings, want 2 (data and blobs/):\n%s", n, out)
	}
}

// serve binds its listener before it creates anything: when the port is
// taken it fails and leaves no data directory, so no admin password.
func TestServePortTakenCreatesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	c := Defaults()
	c.Addr = taken.Addr().String()
	c.Data = filepath.Join(t.TempDir(), "mcr-data")
	c.Log.Level = "error"
	err = serve(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if _, err := os.Stat(c.Data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed start left %s behind (%v)", c.Data, err)
	}
}

// log.format auto writes JSON (no colour codes) to what is not a terminal;
// console forces the human format.
func TestLogFormat(t *testing.T) {
	for format, wantJSON := range map[string]bool{logAuto: true, logJSON: true, logConsole: false} {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		log := LogConfig{Level: "info", Format: format}.logger(f)
		log.Info().Str("k", "v").Msg("hello")
		_ = f.Close()
		b, _ := os.ReadFile(f.Name())
		if isJSON := bytes.HasPrefix(b, []byte(`{"level":"info"`)); isJSON != wantJSON || (wantJSON && bytes.Contains(b, []byte("\x1b["))) {
			t.Errorf("log.format %s to a file wrote %q", format, b)
		}
	}
	if err := (Config{Log: LogConfig{Format: "pretty"}}).Validate(); err == nil || !strings.Contains(err.Error(), "want auto, json or console") {
		t.Errorf("log.format pretty: %v", err)
	}
}
