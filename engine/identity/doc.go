// Package identity owns who a caller is: accounts (human and system),
// their passwords (argon2id) and access keys, the token signing keys, and
// the bearer tokens (JWT, EdDSA) that mcr issues and verifies (docs/design.md
// §6), and the failed-login buckets that replicas sharing a store share
// (Failures, for http/auth's limiter).
//
// Invariants:
//   - Secrets are never stored: passwords as argon2id hashes (PHC string),
//     access keys as SHA-256 of 256 random bits. Comparisons are constant
//     time, and a login for an unknown account still spends one hash so
//     that timing does not tell which names exist.
//   - A token is verified with the public keys held in memory: no store
//     round trip per request. It carries the subject, the account type, the
//     roles and the granted access, and is valid only for this registry's
//     service (audience) until it expires.
//   - Refresh tokens are re-checked against the account record when used,
//     so disabling an account stops refreshes at once; an access token
//     already issued lives until its short expiry.
//   - Argon2id runs at most MaxHashers at a time, so a burst of logins
//     cannot take all memory; cached successful logins (keyed by a SHA-256
//     of the credentials, re-checked against the account record) keep
//     Basic auth on every request cheap.
package identity
