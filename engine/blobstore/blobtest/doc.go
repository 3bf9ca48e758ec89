// Package blobtest is the blob store port's contract as a test suite
// (blobstore.Store): every implementation runs Run against a fresh store,
// as distribution's storage drivers share one suite. A store passes when
// committed blobs read back whole and ranged, stagings go on across
// writers from their recorded offset and state, bytes written past a
// recorded offset are dropped, and removed stagings leave nothing behind.
package blobtest
