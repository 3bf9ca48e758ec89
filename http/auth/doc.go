// Package auth is mcr's authentication and authorization front end
// (docs/design.md §6): the middleware that reads Basic and Bearer credentials,
// the Docker token endpoint (/v2/token: GET with Basic, POST with an OAuth2
// password or refresh_token form), the WWW-Authenticate challenges, the
// per-request policy check that the distribution API calls for the action
// each route declares, and the brute-force limiter.
//
// The flow a client sees (distribution spec, "Authentication"; the Docker
// token specification):
//
//  1. GET /v2/ without credentials: 401 with
//     WWW-Authenticate: Bearer realm="<base>/v2/token",service="<service>".
//  2. GET <realm>?service=&scope=repository:<name>:pull,push with Basic
//     credentials: a signed token granting the requested actions that the
//     policy allows.
//  3. The request again with Authorization: Bearer <token>. An action the
//     token does not grant but the policy allows answers 401 with
//     error="insufficient_scope" (the client fetches a wider token); one the
//     policy refuses answers 403 DENIED.
//
// Basic credentials sent straight to /v2/... work too.
//
// Invariants:
//   - No lock on the request path: the policy is an atomic snapshot, tokens
//     are verified with in-memory keys, the limiter locks one bucket.
//   - Every failed login counts against the (account name, client address)
//     pair and the client address; past either limit the answer from that
//     address is 429 TOOMANYREQUESTS, even for the right password. No limit
//     spans addresses: failures from one address never refuse a login from
//     another (docs/security.md, "Login limiting").
//   - A credential check that misses the login cache (an argon2id hash, a
//     call to MCIAS) needs one of the address's slots (Limits.AddrChecks,
//     waiting at most Limits.CheckWait); concurrent checks of the same
//     credentials share one check.
//   - The principal of a request lives in the RequestCtx only for the
//     request; nothing from the RequestCtx is kept.
package auth
