package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/http/tlsconf/tlstest"
)

func TestTLSConfig(t *testing.T) {
	c, err := Load("", []string{"MCR_TLS_CERT_FILE=/etc/mcr/tls.crt", "MCR_TLS_KEY_FILE=/etc/mcr/tls.key", "MCR_TLS_RELOAD_INTERVAL=5s"})
	if err != nil || c.TLS.CertFile != "/etc/mcr/tls.crt" || c.TLS.KeyFile != "/etc/mcr/tls.key" || c.TLS.ReloadInterval.Duration != 5*time.Second {
		t.Fatalf("tls from env: %+v, %v", c.TLS, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a full pair: %v", err)
	}
	if Defaults().TLS.enabled() {
		t.Fatal("TLS on by default")
	}
	for _, tc := range []struct {
		name string
		mod  func(*TLSConfig)
		want string
	}{
		{"cert without key", func(t *TLSConfig) { t.KeyFile = "" }, "set both"},
		{"key without cert", func(t *TLSConfig) { t.CertFile = "" }, "set both"},
		{"client CA without TLS", func(t *TLSConfig) { t.CertFile, t.KeyFile, t.ClientCAFile = "", "", "/ca.pem" }, "tls.client_ca_file"},
		{"zero interval", func(t *TLSConfig) { t.ReloadInterval.Duration = 0 }, "tls.reload_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := c
			tc.mod(&bad.TLS)
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want a complaint about %s", err, tc.want)
			}
		})
	}
}

// TestListenTLS binds with the files of the configuration: a bad pair
// fails before the port is taken, a good one serves HTTPS.
func TestListenTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	certFile, keyFile := ca.Server(t, 1).Write(t, dir, "server")
	_, otherKey := ca.Server(t, 2).Write(t, dir, "other")
	c := Defaults()
	c.Addr = "127.0.0.1:0"
	c.TLS.CertFile, c.TLS.KeyFile = certFile, otherKey
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, err := listenTLS(ctx, c, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("listen with a mismatched key: %v", err)
	}
	c.TLS.KeyFile = filepath.Join(dir, "absent.key")
	if _, _, err := listenTLS(ctx, c, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "key: open "+c.TLS.KeyFile) {
		t.Fatalf("listen with a missing key: %v", err)
	}
	c.TLS.KeyFile = keyFile
	ln, _, err := listenTLS(ctx, c, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-done }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer client.CloseIdleConnections()
	res, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.TLS == nil || res.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatalf("response over %+v; want TLS with serial 1", res.TLS)
	}
}

// TestServeTLSFlags: --tls-cert and --tls-key reach the listener, and a
// pair that does not load stops serve before the data directory exists.
func TestServeTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	certFile, _ := ca.Server(t, 1).Write(t, dir, "server")
	_, otherKey := ca.Server(t, 2).Write(t, dir, "other")
	data := filepath.Join(dir, "data")
	err := app().Run(context.Background(), []string{"mcrsrv", "serve", "--data", data, "--addr", "127.0.0.1:0", "--auth", "none",
		"--tls-cert", certFile, "--tls-key", otherKey})
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("serve with a mismatched pair: %v", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the data directory exists after a failed start: %v", err)
	}
	err = app().Run(context.Background(), []string{"mcrsrv", "serve", "--data", data, "--tls-cert", certFile})
	if err == nil || !strings.Contains(err.Error(), "set both") {
		t.Fatalf("serve with --tls-cert alone: %v", err)
	}
}
