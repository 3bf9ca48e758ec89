package manifest

import (
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of the manifests the registry stores. Anything else pushed
// to the manifest endpoint is refused: OCI image-spec v1.1 expresses
// arbitrary artifacts as image manifests with an artifactType (or an
// artifact-specific config media type), not as new top-level types, so the
// withdrawn application/vnd.oci.artifact.manifest.v1+json is refused too.
const (
	OCIManifest        = v1.MediaTypeImageManifest                                   // application/vnd.oci.image.manifest.v1+json
	OCIIndex           = v1.MediaTypeImageIndex                                      // application/vnd.oci.image.index.v1+json
	DockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"      // Docker image manifest v2, schema 2
	DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json" // Docker manifest list (the schema2 index)
)

// DockerForeignLayer is Docker's media type for a layer that is fetched from
// its URLs instead of the registry (the ancestor of OCI's non-distributable
// layers).
const DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

// Known reports whether mediaType (exactly, without parameters) is a
// manifest type this package parses.
func Known(mediaType string) bool {
	switch mediaType {
	case OCIManifest, OCIIndex, DockerManifest, DockerManifestList:
		return true
	}
	return false
}

// IsIndex reports whether mediaType is one of the index types, whose
// manifests list other manifests rather than blobs.
func IsIndex(mediaType string) bool {
	return mediaType == OCIIndex || mediaType == DockerManifestList
}

// headerType returns the media type of a Content-Type header value, without
// parameters and lower-cased (RFC 9110 §8.3.1: type and subtype are
// case-insensitive). The distribution spec says the registry SHOULD ignore
// parameters on a manifest push's Content-Type, so a malformed parameter
// list is not an error.
func headerType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// generic reports whether a Content-Type says nothing about the manifest's
// type: absent, or what HTTP clients send for "some bytes".
func generic(t string) bool {
	switch t {
	case "", "application/octet-stream", "binary/octet-stream", "application/json":
		return true
	}
	return false
}

// validMediaType checks the shape RFC 6838 §4.2 gives media type names, as
// the image-spec requires of every descriptor's mediaType and of
// artifactType: type "/" subtype, each a restricted-name of 1 to 127
// characters (the image-spec's own JSON schema uses the same pattern).
// Parameters after ";" are tolerated, since clients are known to push
// layers typed e.g. "text/plain; charset=utf-8", but no control characters
// anywhere.
func validMediaType(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	name, _, _ := strings.Cut(s, ";")
	typ, sub, ok := strings.Cut(strings.TrimRight(name, " \t"), "/")
	return ok && restrictedName(typ) && restrictedName(sub)
}

// restrictedName is RFC 6838 §4.2's restricted-name:
//
//	restricted-name       = restricted-name-first *126restricted-name-chars
//	restricted-name-first = ALPHA / DIGIT
//	restricted-name-chars = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "-" /
//	                        "^" / "_" / "." / "+"
func restrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && !strings.ContainsRune("!#$&-^_.+", rune(c)) {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
