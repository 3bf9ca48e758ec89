//go:build unix

package main

import "syscall"

// ownerOnly makes every file and directory this process creates readable
// by its owner only, whatever mode the code that creates it asks for: the
// data directory holds argon2id hashes and the token signing key, and
// Badger creates its files with mode 0666 and its LOCK file through the
// umask alone.
func ownerOnly() { syscall.Umask(0o077) }
