// Package actors is mcr's generic per-key actor runtime: each key (a
// repository name, in mcr) gets a goroutine, spawned on its first message,
// that runs the messages sent to it one at a time, in the order they were
// queued.
//
// Why actors: every manifest and tag mutation of a repository must be
// applied in a definite order, and house rule 3 forbids a global mutex on
// the request path. One writer per repository gives that order without a
// lock shared between repositories, and keeps Badger transactions of the
// same repository from conflicting with each other. Reads never come here.
//
// The package owns goroutines and mailboxes only; it knows nothing of
// repositories, Badger or HTTP.
//
// Invariants:
//   - Messages for one key run strictly one at a time, FIFO in enqueue
//     order, also across an idle stop and respawn; different keys run
//     concurrently. No lock shared between keys is held while a message
//     runs; the system mutex is taken only to spawn, on exit, and by Stop.
//   - Actors retire after IdleTimeout without a message. An actor retires
//     only under its own mutex after seeing an empty mailbox, and a send
//     happens only under that mutex on a live actor, so a message racing a
//     retirement lands in a live mailbox or in a fresh actor: never lost.
//   - Mailboxes are bounded: a full one returns ErrBusy at once, and the
//     caller sheds load (429) instead of queueing.
//   - fn runs at most once, and never after its caller got ctx's error;
//     once fn has started, Ask waits for it.
//   - A panicking message is recovered and reported as ErrPanic; the actor
//     goes on with the next message.
//   - Every actor goroutine is owned by its System and exits after Stop,
//     which first lets it drain what was already queued.
package actors
