// Package mcias is the client of an external identity service (MCIAS) for
// auth.mode = "mcias": it delegates password logins and the validation of
// the service's own tokens, over HTTPS only (TLS 1.3, optionally a custom
// CA).
//
// The contract it speaks:
//
//	POST <url>/v1/auth/login      {"username": "...", "password": "..."}
//	  200 {"token": "...", "expires_at": "<RFC 3339>"}   401 on bad credentials
//	POST <url>/v1/token/validate  {"token": "..."}
//	  200 {"valid": true, "sub": "...", "username": "...",
//	       "account_type": "human"|"system", "roles": [...], "expires_at": "<RFC 3339>"}
//	  401, or "valid": false, for a token it does not accept
//
// Invariants: positive answers only are cached, for at most CacheTTL (30 s)
// and never past the token's expiry, keyed by the SHA-256 of the token (or
// of the credentials for logins), so no secret is kept in memory; the cache
// is bounded.
package mcias
