// Package tlsconf is the server side of mcr's TLS: it loads a certificate
// and key (and, for mutual TLS, a client CA bundle) from PEM files and
// hands out a *tls.Config that every listener shares (the HTTP front end
// today, the gRPC admin API later).
//
// The files are reloaded without a restart, so certbot or cert-manager can
// rotate them: Watch polls their identity (inode, size, modification time;
// os.Stat follows the symlinks those tools swap) and Reload does it on
// demand (SIGHUP). A reload builds a complete new per-handshake
// configuration and swaps one atomic pointer; a handshake reads the pointer
// once, through GetConfigForClient, so connections already established
// keep their session and new ones get the new certificate.
//
// Invariants:
//   - A pair that does not load (unreadable file, no PEM, key that does not
//     match the certificate, empty CA bundle) never replaces the one being
//     served: Reload returns the error and the old material stays.
//   - TLS 1.2 is the minimum; 1.3 is negotiated whenever the client offers
//     it; cipher suites are crypto/tls's defaults. ALPN offers http/1.1
//     only: the front end does not speak HTTP/2.
//   - With a client CA every handshake requires a certificate that chains
//     to it (RequireAndVerifyClientCert). It is a gate in front of the
//     registry's token authentication, not a replacement for it.
package tlsconf
