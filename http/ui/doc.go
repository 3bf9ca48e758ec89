// Package ui is mcr's web UI, served by mcrsrv under /ui (docs/ui.md):
// server-rendered HTML (html/template) over the same engine components
// the admin API drives — the registry's read and inspect functions, the
// job runner, the policy engine, the identity service, the audit journal,
// snapshots — never HTTP calls to the server itself.
//
// Invariants:
//   - Every page authorizes with the policy action of the API route that
//     does the same thing, for the viewer: the principal of a session
//     cookie, or the anonymous caller. Actions a viewer may not do are not
//     shown, and refused (403) if posted anyway.
//   - Sessions live server-side (identity sessions in the kv store), so
//     signing out and disabling an account end them at once.
//   - Every state-changing request is a POST carrying the session's CSRF
//     token (the sign-in form: a double-submit cookie).
//   - Every answer carries a strict Content-Security-Policy: scripts and
//     styles only from /ui/static (embedded), no inline script or style.
//     Everything user-supplied reaches the page through html/template's
//     contextual escaping, and links are built only from validated names.
//   - A page reads one page of data: repository and tag listings are
//     seeks (engine.RepositorySearch, engine.TagsWithPrefix), never a
//     walk of the whole registry per request.
package ui
