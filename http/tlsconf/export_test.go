package tlsconf

import "crypto/x509"

// Leaf is the certificate r serves now, for the package's external tests.
func Leaf(r *Reloader) *x509.Certificate { return r.cur.Load().leaf }
