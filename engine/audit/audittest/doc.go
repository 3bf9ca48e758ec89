// Package audittest keeps audit events in memory for tests to assert on.
package audittest
