// Package wait is the one way tests wait for something to happen: poll an
// observable condition until it holds, with a deadline. Where the code
// under test offers a channel or a hook, a test waits on that instead; a
// sleep is never a wait.
//
// It imports only the standard library, so any package's internal tests
// can use it (engine/blobstore's included, which engine/enginetest
// cannot serve).
package wait
