package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// TestReadyzWhileAwaitingPostgres starts the server against a PostgreSQL
// that is down. While serve waits for it, the bound port answers at once:
// /readyz 503 saying it is starting, a registry request 503 UNAVAILABLE
// with Retry-After (before, the listener was bound and nothing read the
// connections: a probe hung until its own timeout). Once PostgreSQL is
// back the server finishes starting by itself and serves.
func TestReadyzWhileAwaitingPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and a server process")
	}
	pg := pgtest.Private(t)
	db, err := pg.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	srv := &child{addr: addr, log: &bytes.Buffer{}}
	srv.cmd = exec.Command(os.Args[0], "serve", "--data", t.TempDir(), "--addr", addr, "--auth", "none")
	srv.cmd.Env = append(os.Environ(), "MCRSRV_TEST_MAIN=1", "MCR_LOG_LEVEL=warn",
		"MCR_METADATA_BACKEND=postgres", "MCR_METADATA_POSTGRES_DSN="+pg.DSN(db))
	srv.cmd.Stdout, srv.cmd.Stderr = srv.log, srv.log
	if err := srv.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.cmd.Wait() }()
	t.Cleanup(func() {
		_ = srv.cmd.Process.Kill() // an error once it exited
		<-exited
		if t.Failed() {
			t.Logf("server log:\n%s", srv.log)
		}
	})
	// A probe gets its answer well inside its own timeout, or fails.
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, []byte, error) {
		res, err := client.Get("http://" + addr + path)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	// The port is bound first thing; poll until it is.
	deadline := time.Now().Add(30 * time.Second)
	res, body, err := get("/readyz")
	for ; err != nil && strings.Contains(err.Error(), "connection refused"); res, body, err = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatal("the port is not bound 30s after the start")
		}
		time.Sleep(20 * time.Millisecond) // polling the port, with a deadline
	}
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("starting")) {
		t.Fatalf("/readyz while PostgreSQL is down at start: %v %v %s; want 503 starting", res, err, body)
	}
	res, body, err = get("/v2/")
	var oci struct{ Errors []struct{ Code string } }
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &oci) != nil || len(oci.Errors) != 1 || oci.Errors[0].Code != "UNAVAILABLE" {
		t.Fatalf("/v2/ while starting: %v %v %s; want 503 UNAVAILABLE with Retry-After", res, err, body)
	}

	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	wait.Within(t, time.Minute, "/readyz 200 once PostgreSQL is back", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the server exited while waiting for PostgreSQL: %v", err)
		default:
		}
		res, _, err := get("/readyz")
		return err == nil && res.StatusCode == http.StatusOK
	})
	blob := []byte("pushed once PostgreSQL is back")
	res, body = send(t, "POST", "http://"+addr+"/v2/late/app/blobs/uploads/?digest="+digestOf(blob), bytes.NewReader(blob))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("push after the start: %d %s", res.StatusCode, body)
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Errorf("clean shutdown failed: %v", err)
	}
	exited <- nil
}
