// Package tlstest makes throw-away PKI for tests: a CA and the server and
// client certificates it signs, written as PEM files. Keys are ECDSA P-256
// (fast to generate on a loaded CI machine); every certificate gets the
// serial number the test asks for, so a test can tell which generation a
// handshake saw. Log collects what the components log, for tests that
// check those lines.
package tlstest
