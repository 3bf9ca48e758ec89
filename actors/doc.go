// Package actors is a generic per-key actor runtime: each key (a
// repository name, in mcr) gets a goroutine that runs the messages sent to
// it one at a time, in the order they were queued.
//
// Why: every manifest and tag mutation of a repository must be applied in
// a definite order without a lock shared between repositories. One writer
// per repository gives that order for free, and keeps Badger transactions
// of the same repository from conflicting with each other.
//
// Invariants:
//   - Messages for one key run strictly one at a time, FIFO; different keys
//     run concurrently. No lock shared between keys is held on the request
//     path or while a message runs.
//   - Actors are spawned on the first message and retire after IdleTimeout
//     without one; a message racing a retirement is never lost.
//   - Mailboxes are bounded: a full one returns ErrBusy at once.
//   - A panicking message is recovered and reported as ErrPanic; the actor
//     goes on with the next message.
//   - Every goroutine exits after Stop, which drains queued messages first.
package actors
