package tlsconf_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine/enginetest/wait"
	"git.wntrmute.dev/kyle/mcr/http/tlsconf"
	"git.wntrmute.dev/kyle/mcr/http/tlsconf/tlstest"
)

// handshake runs one TLS handshake over loopback TCP and returns the
// serial of the certificate the client saw (0 if none) and the server's
// handshake error.
func handshake(t *testing.T, server *tls.Config, client *tls.Config) (int64, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		c := tls.Server(sc, server)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		srvErr <- c.Handshake()
		_ = c.Close()
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), client)
	var serial int64
	if err == nil {
		serial = c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		_ = c.Close()
	}
	return serial, <-srvErr
}

func clientConfig(ca *tlstest.CA) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
}

func TestReloadOnCallAndOnFileChange(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	certFile, keyFile := ca.Server(t, 1).Write(t, dir, "server")
	var logs tlstest.Log
	r, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.Config()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	if serial, err := handshake(t, cfg, clientConfig(ca)); err != nil || serial != 1 {
		t.Fatalf("first handshake: serial %d, %v; want 1", serial, err)
	}

	// An explicit reload (SIGHUP) picks up new files at once.
	ca.Server(t, 2).Write(t, dir, "server")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if serial, err := handshake(t, cfg, clientConfig(ca)); err != nil || serial != 2 {
		t.Fatalf("after Reload: serial %d, %v; want 2", serial, err)
	}

	// The watcher notices a change of the files by itself.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Watch(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	ca.Server(t, 3).Write(t, dir, "server")
	waitSerial(t, cfg, ca, 3)

	// A key that does not match the new certificate: logged, old pair kept.
	bad := ca.Server(t, 4)
	other := ca.Server(t, 5)
	writeFile(t, keyFile, other.KeyPEM)
	writeFile(t, certFile, bad.CertPEM)
	logs.Wait(t, "do not load")
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Reload of a mismatched pair: %v; want a key mismatch error", err)
	}
	if serial, err := handshake(t, cfg, clientConfig(ca)); err != nil || serial != 3 {
		t.Fatalf("after a bad pair: serial %d, %v; want the old 3", serial, err)
	}
	if got := tlsconf.Leaf(r).SerialNumber.Int64(); got != 3 {
		t.Fatalf("Leaf serial %d, want 3", got)
	}

	// Completing the pair fixes it without any explicit call.
	writeFile(t, keyFile, bad.KeyPEM)
	waitSerial(t, cfg, ca, 4)
}

// waitSerial polls new handshakes until one sees serial.
func waitSerial(t *testing.T, cfg *tls.Config, ca *tlstest.CA, serial int64) {
	t.Helper()
	wait.For(t, fmt.Sprintf("a handshake to see serial %d", serial), func() bool {
		got, err := handshake(t, cfg, clientConfig(ca))
		return err == nil && got == serial
	})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewReportsBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "test")
	certFile, keyFile := ca.Server(t, 1).Write(t, dir, "server")
	_, otherKey := ca.Server(t, 2).Write(t, dir, "other")
	notPEM := filepath.Join(dir, "garbage.pem")
	writeFile(t, notPEM, []byte("not a certificate\n"))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		o    tlsconf.Options
		want string
	}{
		{"missing cert", tlsconf.Options{CertFile: missing, KeyFile: keyFile}, "certificate: open " + missing},
		{"missing key", tlsconf.Options{CertFile: certFile, KeyFile: missing}, "key: open " + missing},
		{"not PEM", tlsconf.Options{CertFile: notPEM, KeyFile: keyFile}, "failed to find any PEM data"},
		{"mismatch", tlsconf.Options{CertFile: certFile, KeyFile: otherKey}, "private key does not match public key"},
		{"CA missing", tlsconf.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: missing}, "client CA: open " + missing},
		{"CA not PEM", tlsconf.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}, "no PEM certificate"},
		{"no key", tlsconf.Options{CertFile: certFile}, "both required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsconf.New(tc.o, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestClientCARequired(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, dir, "server")
	clients := tlstest.NewCA(t, dir, "clients")
	stranger := tlstest.NewCA(t, dir, "stranger")
	certFile, keyFile := ca.Server(t, 1).Write(t, dir, "server")
	r, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: clients.File}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.Config()
	for _, tc := range []struct {
		name string
		cert []tls.Certificate
		ok   bool
	}{
		{"no client certificate", nil, false},
		{"signed by another CA", []tls.Certificate{stranger.Client(t, 7, "ci").TLS}, false},
		{"signed by the client CA", []tls.Certificate{clients.Client(t, 8, "ci").TLS}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := clientConfig(ca)
			cc.Certificates = tc.cert
			_, err := handshake(t, cfg, cc)
			if tc.ok && err != nil {
				t.Fatalf("server handshake: %v; want success", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("server accepted the handshake; want it refused")
			}
		})
	}
}
