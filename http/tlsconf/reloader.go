package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Options names the PEM files of a listener.
type Options struct {
	CertFile string // certificate chain, leaf first
	KeyFile  string // private key of the leaf
	// ClientCAFile, when set, is a bundle of CA certificates; clients must
	// present a certificate signed by one of them.
	ClientCAFile string
}

// Reloader serves the current certificate (and client CAs) of a listener
// and replaces them when their files change.
type Reloader struct {
	o   Options
	log zerolog.Logger
	cur atomic.Pointer[material]

	mu     sync.Mutex // serialises Reload between Watch and its callers
	stamps []os.FileInfo
}

// material is one loaded generation: the per-handshake configuration
// built from it and the certificate's leaf, for logs and tests.
type material struct {
	conf *tls.Config
	leaf *x509.Certificate
}

// New loads the files once; an error names the file and what is wrong with
// it, so that a bad configuration stops the server at start.
func New(o Options, log zerolog.Logger) (*Reloader, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("a certificate file and a key file are both required")
	}
	r := &Reloader{o: o, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Config is the listener's configuration. It carries no certificate of its
// own: every handshake takes the current generation's configuration.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load().conf, nil
		},
	}
}

// Reload reads the files again and, if they load, serves them to the next
// handshakes. On error the previous generation stays in service.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stamps = r.stat() // even on failure: Watch retries only on the next change
	m, err := load(r.o)
	if err != nil {
		return err
	}
	r.cur.Store(m)
	ev := r.log.Info()
	if time.Now().After(m.leaf.NotAfter) {
		ev = r.log.Warn()
	}
	ev.Str("cert_file", r.o.CertFile).Str("serial", m.leaf.SerialNumber.Text(16)).Strs("dns_names", m.leaf.DNSNames).
		Time("not_after", m.leaf.NotAfter).Bool("client_ca", r.o.ClientCAFile != "").Msg("TLS certificate loaded")
	return nil
}

// Watch reloads whenever one of the files changes, checking every
// interval, until ctx ends. A failed reload is logged and the old
// certificate kept.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.changed() {
			continue
		}
		if err := r.Reload(); err != nil {
			r.log.Error().Err(err).Msg("TLS files changed but do not load; still serving the previous certificate")
		}
	}
}

func (r *Reloader) files() []string {
	f := []string{r.o.CertFile, r.o.KeyFile}
	if r.o.ClientCAFile != "" {
		f = append(f, r.o.ClientCAFile)
	}
	return f
}

// stat returns the identity of each file, nil for one that cannot be
// stat'ed (it may be in the middle of a rename).
func (r *Reloader) stat() []os.FileInfo {
	files := r.files()
	out := make([]os.FileInfo, len(files))
	for i, f := range files {
		out[i], _ = os.Stat(f)
	}
	return out
}

func (r *Reloader) changed() bool {
	now := r.stat()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, fi := range now {
		if !sameStamp(fi, r.stamps[i]) {
			return true
		}
	}
	return false
}

// sameStamp compares the identity (device and inode), size and
// modification time of two stats: a rewrite in place changes the last
// two, a rename or symlink swap the first.
func sameStamp(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads and checks one generation of files.
func load(o Options) (*material, error) {
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s and key %s: %w", o.CertFile, o.KeyFile, err)
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
		Certificates: []tls.Certificate{cert},
	}
	if o.ClientCAFile != "" {
		pool, err := loadPool(o.ClientCAFile)
		if err != nil {
			return nil, err
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return &material{conf: conf, leaf: cert.Leaf}, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client CA %s: no PEM certificate in it", path)
	}
	return pool, nil
}
