// Command mcrctl is the operator's command line for a running mcr registry:
// it speaks the admin REST API (/api/v1, docs/api.md) and nothing else, so
// it links none of the server; the wire types come from
// http/adminapi/apiv1.
//
// Invariants:
//   - every HTTP call is bounded by a timeout (--timeout; a long poll gets
//     its wait plus a margin), and by the command's context;
//   - the password given to login is sent to the token endpoint once and
//     never stored: the config file (mode 0600) keeps a refresh token,
//     which each command exchanges for a short-lived access token;
//   - output goes to the writers the command was built with (tests run the
//     CLI in-process); -o json prints the API's documents unchanged in
//     shape, tables are for people;
//   - the exit code says what went wrong: 0 ok, 1 error, 2 usage, 3 not
//     found, 4 unauthorized or denied, 5 conflict (exitcode.go).
package main
