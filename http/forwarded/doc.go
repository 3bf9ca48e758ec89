// Package forwarded decides what a request says about its client when it
// came through a reverse proxy (nginx, HAProxy, a load balancer): the
// scheme and host the client used (X-Forwarded-Proto, X-Forwarded-Host),
// which make the token realm of a challenge point at the proxy, and the
// client's address (X-Forwarded-For), which the failed-login limiter and
// the audit log key on.
//
// Invariants:
//   - Forwarded headers are believed only from a peer whose address is in
//     the configured trusted networks (http.trusted_proxies); with none
//     configured (the default) they are ignored, so a client cannot name
//     its own realm or spoof its address.
//   - A forwarded value that is not a plain scheme, host[:port] or IP is
//     ignored, never copied into a header (the realm is quoted in
//     WWW-Authenticate).
package forwarded
