package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp/fasthttputil"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Registry is a real server spoken to with net/http.
type Registry struct {
	T      testing.TB
	Dial   func() (net.Conn, error) // a raw connection to the server
	Client *http.Client
	Srv    *server.Server
	Reg    *engine.Registry
	Stores *enginetest.Stores
	Dir    string
	// Pool is the upload pool the harness made (nil when Config.Engine
	// brought its own Streamer).
	Pool *jobs.Pool
	// Services are the identity, policy, audit and job services (nil for
	// an anonymous registry).
	*Services
}

// Config says what to serve. The zero Config is an anonymous registry on
// fresh stores over an in-memory listener.
type Config struct {
	Engine engine.Options
	// Stores, when set, are served instead of fresh ones.
	Stores *enginetest.Stores
	// Listener and Dial, when set, replace the in-memory listener (a real
	// socket, for tests of what goes over TCP).
	Listener net.Listener
	Dial     func() (net.Conn, error)
	// Auth, when set, turns authentication on with these services.
	Auth *Setup
	// Server, when set, tunes the server's Options (metrics, readiness,
	// UI) once the registry and its services exist.
	Server func(*Registry, *server.Options)
}

// New serves an anonymous registry with engine options o.
func New(t testing.TB, o engine.Options) *Registry {
	t.Helper()
	return Serve(t, Config{Engine: o})
}

// Serve serves what c says and shuts everything down, in order, when the
// test ends: the server first, then the services, the engine, the stores.
func Serve(t testing.TB, c Config) *Registry {
	t.Helper()
	if c.Stores == nil {
		c.Stores = enginetest.Open(t, "")
	}
	tr := &Registry{T: t, Stores: c.Stores, Dir: c.Stores.Dir}
	if c.Engine.Streamer == nil {
		tr.Pool = UploadPool(t)
		c.Engine.Streamer = tr.Pool
	}
	tr.Reg = NewEngine(t, c.Stores, c.Engine)
	so := server.Options{ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: time.Minute, Concurrency: 1024}
	if c.Auth != nil {
		tr.Services = NewServices(t, c.Stores, tr.Reg, *c.Auth)
		so.Auth = tr.Services.Auth
		if tr.Services.Admin != nil {
			so.Admin = tr.Services.Admin
		}
	}
	if c.Server != nil {
		c.Server(tr, &so)
	}
	ln, dial := c.Listener, c.Dial
	if ln == nil {
		mem := fasthttputil.NewInmemoryListener()
		ln, dial = mem, mem.Dial
	}
	tr.Dial = dial
	tr.Srv = server.New(tr.Reg, zerolog.Nop(), so)
	done := make(chan error, 1)
	go func() { done <- tr.Srv.Serve(ln) }()
	tr.Client = &http.Client{
		Transport: &http.Transport{
			DialContext:         func(context.Context, string, string) (net.Conn, error) { return dial() },
			MaxIdleConnsPerHost: 64,
		},
		// Redirects are answers under test, never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr.Client.CloseIdleConnections()
		if err := tr.Srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return tr
}

// UploadPool is the upload pool of mcrsrv serve with few workers, so that
// tests also cross the pipeline's handoffs; closed when the test ends.
func UploadPool(t testing.TB) *jobs.Pool {
	pool := jobs.NewPool(4, 64)
	t.Cleanup(pool.Close)
	return pool
}

// NewEngine opens the engine over s, closed when the test ends (before
// the stores).
func NewEngine(t testing.TB, s *enginetest.Stores, o engine.Options) *engine.Registry {
	t.Helper()
	reg := engine.New(s.KV, s.Blobs, o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("close registry: %v", err)
		}
	})
	return reg
}

// Resp is a response read whole.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// Code is the first OCI error code of the body ("" when none).
func (r Resp) Code() string {
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	_ = json.Unmarshal(r.Body, &e)
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// Do sends a request; hdr alternates header names and values.
func (tr *Registry) Do(method, path string, body []byte, hdr ...string) Resp {
	tr.T.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://registry.test"+path, rd)
	if err != nil {
		tr.T.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := tr.Client.Do(req)
	if err != nil {
		tr.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tr.T.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Expect fails the test unless r has the status (and OCI code, when not
// empty).
func (tr *Registry) Expect(r Resp, status int, code string, what string) {
	tr.T.Helper()
	if r.Status != status || (code != "" && r.Code() != code) {
		tr.T.Errorf("%s: got %d %q (%s), want %d %s", what, r.Status, r.Code(), Truncate(r.Body), status, code)
	}
}

// Truncate shortens a body for a failure message.
func Truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// RandomBytes is n random bytes: content no other test pushed.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// StagingFiles lists what is left in the uploads directory.
func (tr *Registry) StagingFiles() []string {
	tr.T.Helper()
	return enginetest.StagingFiles(tr.T, tr.Dir)
}

// Blob reads back what the engine stores for d in repo: the bytes a later
// pull would get, or the error (a kind) it would answer.
func (tr *Registry) Blob(repo string, d digest.Digest) ([]byte, error) {
	tr.T.Helper()
	rc, _, err := tr.Reg.OpenBlob(context.Background(), repo, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
