package manifest

import (
	_ "crypto/sha256" // register the hashes go-digest needs: sha256 ...
	_ "crypto/sha512" // ... and sha512, which go-digest only offers when linked in
	"strconv"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// allowed reports whether the registry accepts digests of algorithm a: the
// two the image-spec registers ("Registered algorithms": sha256, sha512),
// which are also the only ones the blob store and the distribution API
// accept, so a descriptor of any other algorithm could never be resolved.
func allowed(a digest.Algorithm) bool { return a == digest.SHA256 || a == digest.SHA512 }

// field names a descriptor in error details: "config", "layers[3]".
type field struct {
	name  string
	index int // -1 when the descriptor is not in a list
}

func (f field) String() string {
	if f.index < 0 {
		return f.name
	}
	return f.name + "[" + strconv.Itoa(f.index) + "]"
}

// checkDescriptor validates one descriptor against image-spec "Content
// Descriptors": a mediaType (REQUIRED, RFC 6838), a digest (REQUIRED, of an
// allowed algorithm, in that algorithm's encoding), a size (REQUIRED; JSON
// decoding already refused anything that is not an int64, so only the sign
// is left), an artifactType if present (RFC 6838), and embedded data if
// present, which "MUST be identical to the referenced content".
func checkDescriptor(f field, d *v1.Descriptor) error {
	if d.MediaType == "" {
		return invalid("%s.mediaType is required", f)
	}
	if !validMediaType(d.MediaType) {
		return invalid("%s.mediaType %s is not a valid media type", f, clip(d.MediaType))
	}
	if err := checkDigest(d.Digest); err != nil {
		return errorf(KindDigest, "%s.digest %s: %v", f, clip(string(d.Digest)), err)
	}
	if d.Size < 0 {
		return invalid("%s.size %d is negative", f, d.Size)
	}
	if d.ArtifactType != "" && !validMediaType(d.ArtifactType) {
		return invalid("%s.artifactType %s is not a valid media type", f, clip(d.ArtifactType))
	}
	// encoding/json decoded "data" as standard base64 (RFC 4648 §4, as the
	// image-spec requires) or failed; null and absent both leave it nil.
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return invalid("%s.data has %d bytes but size is %d", f, len(d.Data), d.Size)
		}
		if d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return invalid("%s.data does not match digest %s", f, d.Digest)
		}
	}
	return nil
}

// checkDigest validates a descriptor digest: the grammar and encoding of
// its algorithm (go-digest: lower-case hex of the right length for sha256
// and sha512, image-spec "SHA-256"/"SHA-512"), and an allowed algorithm.
func checkDigest(d digest.Digest) error {
	if d == "" {
		return digest.ErrDigestInvalidFormat
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if !allowed(d.Algorithm()) {
		return digest.ErrDigestUnsupported
	}
	return nil
}

// clip quotes s for an error detail, shortened: a hostile manifest may put
// megabytes into any string field.
func clip(s string) string {
	const limit = 100
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
