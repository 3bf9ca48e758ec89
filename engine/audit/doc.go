// Package audit defines the events mcr records about security-relevant
// actions (logins, token issuance, denials, policy and account changes)
// and the one small interface they are written through. The durable,
// queryable audit log is its own component; until it is plugged in, events
// go to the process log (Log) or nowhere (Nop).
//
// Invariant: Record never fails the request that caused the event and
// never blocks it for long; an implementation that persists events must
// buffer (bounded) or be fast.
package audit
