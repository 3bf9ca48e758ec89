// Package policy decides what a caller may do: rules, their evaluation and
// the read-mostly rule cache (docs/design.md §6).
//
// A rule has an id, a priority, an effect (allow or deny), a subject match
// (account id, account type, role; an empty field matches anyone), a list of
// actions and a list of repository globs. Evaluate sorts the rules stably by
// priority (lower first), collects every enabled rule that matches, and
// decides: any matching deny wins, else any matching allow allows, else the
// request is denied. The decision names the rule that decided it.
//
// Invariants:
//   - Evaluation never takes a lock and never reads the store: Engine holds
//     an immutable, sorted snapshot of the rules behind an atomic pointer
//     and swaps in a new one after every change it commits. A change
//     committed by another process sharing the store (another replica)
//     is published on the store (kv.Publish) and reloaded by Follow within
//     the store's announcement delay: milliseconds, at most its poll
//     interval when the announcement was lost (docs/scale-out.md).
//   - A rule with no repositories matches only global operations (catalog,
//     version_check, admin, policy:manage); a rule with repositories matches
//     only operations on a repository one of its globs matches.
//   - The built-in rules (ids starting "builtin:") are part of every
//     snapshot and can be neither stored, replaced nor deleted.
package policy
