package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/tlsconf"
)

// TLSConfig puts the listener on HTTPS (docs/operations.md, "TLS").
type TLSConfig struct {
	// CertFile and KeyFile are PEM files: the certificate chain, leaf
	// first, and its private key. Both or neither; neither serves plain
	// HTTP.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ClientCAFile, when set, requires every client to present a
	// certificate signed by one of these CAs (mutual TLS), before and in
	// addition to the registry's own authentication.
	ClientCAFile string `toml:"client_ca_file"`
	// ReloadInterval is how often the files are checked for a change
	// (certbot, cert-manager); SIGHUP reloads them at once.
	ReloadInterval Duration `toml:"reload_interval"`
}

func defaultTLS() TLSConfig { return TLSConfig{ReloadInterval: Duration{30 * time.Second}} }

func (t TLSConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t TLSConfig) validate() []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("tls.cert_file and tls.key_file: set both (HTTPS) or neither (plain HTTP)"))
	}
	if t.ClientCAFile != "" && !t.enabled() {
		errs = append(errs, errors.New("tls.client_ca_file: needs tls.cert_file and tls.key_file"))
	}
	if t.ReloadInterval.Duration <= 0 {
		errs = append(errs, errors.New("tls.reload_interval: must be positive"))
	}
	return errs
}

// listenTLS binds c.Addr before anything else of the server starts. With
// TLS configured it loads the files first (a bad pair stops the start with
// the file's name and the reason) and keeps them fresh until ctx ends: the
// files are polled, and SIGHUP reloads them at once. It also returns the
// TLS configuration (nil without TLS), for the other listeners that serve
// with the same certificate.
func listenTLS(ctx context.Context, c Config, log zerolog.Logger) (net.Listener, *tls.Config, error) {
	var cfg *tls.Config
	var certs *tlsconf.Reloader
	if c.TLS.enabled() {
		var err error
		certs, err = tlsconf.New(tlsconf.Options{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, ClientCAFile: c.TLS.ClientCAFile},
			log.With().Str("component", "tls").Logger())
		if err != nil {
			return nil, nil, fmt.Errorf("tls: %w", err)
		}
		cfg = certs.Config()
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, nil, err
	}
	if certs != nil {
		go certs.Watch(ctx, c.TLS.ReloadInterval.Duration)
	}
	go reloadOnHangup(ctx, certs, log)
	return server.Listener(ln, cfg, log), cfg, nil
}

// reloadOnHangup reloads the TLS files on each SIGHUP until ctx ends.
// Without TLS there is nothing to reload, but SIGHUP is still caught: an
// ExecReload or a stray kill -HUP must not stop the registry.
func reloadOnHangup(ctx context.Context, certs *tlsconf.Reloader, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		switch {
		case certs == nil:
			log.Info().Msg("SIGHUP: nothing to reload (TLS is off)")
		default:
			if err := certs.Reload(); err != nil {
				log.Error().Err(err).Msg("SIGHUP: TLS files do not load; still serving the previous certificate")
			}
		}
	}
}
