// Package s3store keeps blob bytes in an S3-compatible bucket: the
// blobstore.Store port over aws-sdk-go-v2, with path-style addressing and
// a custom endpoint so that any S3 implementation works.
//
//	<prefix>blobs/sha256/<2 hex>/<hex>   committed content, never modified
//	<prefix>uploads/<id>/tail-<rnd>      bytes of a session past its last full part
//	<prefix>uploads/<id>/data            a finished multipart upload, before its copy
//
// An upload streams into a multipart upload under uploads/<id>/data, one
// part of Config.PartSize at a time, so a writer holds at most one part in
// memory. What is left past the last full part when a request ends is put
// as a small tail object of a new name, and Sync returns the state (multipart upload
// id, part list with ETags, tail length) that the engine records with the
// session's offset and hash state: any process sharing the bucket and the
// metadata store takes the session up from there. Bytes never recorded (a
// request that failed after writing) are ignored on take-up: parts past
// the recorded list are overwritten or left out of the completion, the
// tail read is the one the state names (a later, unrecorded Sync put
// another).
//
// Commit runs after the engine verified the digest: a blob that fits one
// part is put at its final key directly; a larger one is completed at
// uploads/<id>/data and copied to its final key, so the final key only
// ever holds verified bytes. CopyObject takes objects of up to 5 GiB, so
// a larger blob (above Config.CopySize) is copied as a multipart upload of
// UploadPartCopy ranges, which its key shows only once complete.
// Removing a staging aborts its multipart uploads (found by
// ListMultipartUploads) and deletes its objects.
package s3store
