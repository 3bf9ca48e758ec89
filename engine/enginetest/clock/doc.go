// Package clock is the settable clock tests hand to code that takes a
// Now func (token expiry, sessions, rate limits): time moves only when the
// test says so. Standard library only, so any package's internal tests can
// use it.
package clock
