// Package oci is the benchmark's client for the OCI Distribution API: just
// the calls the scenarios make, each of which checks the status code and
// the headers and bodies the spec promises (digests, lengths, upload
// ranges), and returns an error for anything else. It speaks plain HTTP/1.1
// with keep-alive through net/http and knows nothing about the registry
// behind it.
//
// Every response body is read to the end and closed, so connections are
// reused; blob bodies are streamed through SHA-256, never buffered.
package oci
