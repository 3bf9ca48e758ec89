//go:build !unix

package main

// ownerOnly has nothing to set where there is no umask: on Windows a new
// file takes its directory's access list, and the directories mcr creates
// are created with owner-only modes.
func ownerOnly() {}
