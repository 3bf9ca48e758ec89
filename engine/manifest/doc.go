// Package manifest parses and validates the manifests a client pushes to
// the registry, without any transport or storage: bytes and a Content-Type
// in, a *Manifest or a typed *Error out.
//
// It owns:
//
//   - which manifest media types the registry accepts (OCI image manifest
//     and index, Docker schema2 manifest and manifest list) and how the
//     effective media type of a push is decided from the Content-Type header
//     and the payload's "mediaType" field (distribution-spec "Pushing
//     Manifests");
//   - the structural rules of OCI image-spec v1.1 that can be checked on the
//     payload alone: schemaVersion 2, required fields, well-formed
//     descriptors (media type, digest, size, embedded data);
//   - what a manifest references: Blobs (content that must be present in
//     the repository), Children (manifests an index points at), the Subject,
//     and the referrers descriptor (Descriptor) with the artifactType the
//     referrers API reports.
//
// It does not own existence checks (is a blob or child present in the
// repository?), the manifest's own digest, or the size limit MaxSize: the
// engine and the HTTP layer enforce those.
//
// Invariants: Parse never panics, whatever its input; a *Manifest returned
// by Parse has an effective MediaType that is one of the four supported
// constants, and every descriptor in it has a valid sha256 or sha512 digest,
// a non-negative size and a well-formed media type. Unknown JSON fields are
// ignored everywhere, as the specs require of implementations that store
// manifests. The payload bytes are never rewritten: the registry stores
// exactly what the client sent.
package manifest
