// Package manifest parses and validates the manifests a client pushes: OCI
// image manifests and indexes (image-spec v1.1), Docker schema2 manifests
// and manifest lists, and artifacts expressed as either. It is pure: bytes
// in, a description of what the manifest references out. Whether those
// references exist is the engine's question, not this package's.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	_ "crypto/sha256" // digest algorithms the spec allows
	_ "crypto/sha512"
)

// MaxSize is the largest manifest accepted (distribution spec: registries
// SHOULD accept at least 4 MiB).
const MaxSize = 4 << 20

// Media types of the manifests a registry stores.
const (
	OCIManifest        = v1.MediaTypeImageManifest
	OCIIndex           = v1.MediaTypeImageIndex
	DockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Known reports whether mediaType is a manifest type this package parses.
func Known(mediaType string) bool {
	switch mediaType {
	case OCIManifest, OCIIndex, DockerManifest, DockerManifestList:
		return true
	}
	return false
}

func isIndex(mediaType string) bool { return mediaType == OCIIndex || mediaType == DockerManifestList }

// Manifest is what the registry needs to know about a pushed manifest.
type Manifest struct {
	MediaType string
	// ArtifactType is what the referrers API reports: the manifest's
	// artifactType, else (image manifests) a config media type other than
	// the standard image config's.
	ArtifactType string
	Subject      *v1.Descriptor
	Config       *v1.Descriptor  // image manifests only
	Layers       []v1.Descriptor // image manifests only
	Manifests    []v1.Descriptor // indexes only
	Annotations  map[string]string
}

// Kind classifies a validation failure.
type Kind int

const (
	// KindInvalid: the manifest is malformed or inconsistent.
	KindInvalid Kind = iota + 1
	// KindUnsupported: a media type this registry does not store.
	KindUnsupported
)

// Error is a validation failure with a reason for the client.
type Error struct {
	Kind   Kind
	Detail string
}

func (e *Error) Error() string { return "manifest: " + e.Detail }

func invalid(format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Detail: fmt.Sprintf(format, args...)}
}

// wire is the union of the fields of every supported manifest shape.
// Unknown fields are ignored: the spec lets manifests carry extensions.
type wire struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *v1.Descriptor    `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Manifests     []v1.Descriptor   `json:"manifests"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Parse validates payload, pushed with the given Content-Type (which may
// carry parameters or be empty).
func Parse(contentType string, payload []byte) (*Manifest, error) {
	var w wire
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, invalid("not valid JSON: %v", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(payload), []byte("[")) || w.SchemaVersion == nil {
		return nil, invalid("schemaVersion is required")
	}
	if *w.SchemaVersion != 2 {
		return nil, invalid("schemaVersion %d is not supported, only 2", *w.SchemaVersion)
	}
	mt, err := mediaType(contentType, &w)
	if err != nil {
		return nil, err
	}
	m := &Manifest{MediaType: mt, ArtifactType: w.ArtifactType, Annotations: w.Annotations}
	if w.Subject != nil {
		if err := checkDescriptor("subject", *w.Subject); err != nil {
			return nil, err
		}
		m.Subject = w.Subject
	}
	if isIndex(mt) {
		if w.Config != nil || w.Layers != nil {
			return nil, invalid("an index has no config or layers")
		}
		if w.Manifests == nil {
			return nil, invalid("an index needs a manifests list")
		}
		for i, d := range w.Manifests {
			if err := checkDescriptor(fmt.Sprintf("manifests[%d]", i), d); err != nil {
				return nil, err
			}
		}
		m.Manifests = w.Manifests
		return m, nil
	}
	if w.Manifests != nil {
		return nil, invalid("an image manifest has no manifests list")
	}
	if w.Config == nil {
		return nil, invalid("config is required")
	}
	if err := checkDescriptor("config", *w.Config); err != nil {
		return nil, err
	}
	for i, d := range w.Layers {
		if err := checkDescriptor(fmt.Sprintf("layers[%d]", i), d); err != nil {
			return nil, err
		}
	}
	m.Config, m.Layers = w.Config, w.Layers
	if m.ArtifactType == "" && w.Config.MediaType != v1.MediaTypeImageConfig && mt == OCIManifest {
		// image-spec "Guidelines for artifact usage": without artifactType
		// the config media type names the artifact.
		m.ArtifactType = w.Config.MediaType
	}
	return m, nil
}

// mediaType settles the manifest's media type from the Content-Type
// header and the payload's own mediaType field, which must agree when both
// are present (distribution spec: "Pushing Manifests").
func mediaType(contentType string, w *wire) (string, error) {
	header := ""
	if contentType != "" {
		t, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return "", invalid("malformed Content-Type %q", contentType)
		}
		if t != "application/octet-stream" && t != "application/json" {
			header = t
		}
	}
	if header != "" && w.MediaType != "" && header != w.MediaType {
		return "", invalid("Content-Type %s does not match the manifest's mediaType %s", header, w.MediaType)
	}
	mt := header
	if mt == "" {
		mt = w.MediaType
	}
	if mt == "" { // detect the shape of an OCI manifest without mediaType
		if w.Manifests != nil {
			mt = OCIIndex
		} else {
			mt = OCIManifest
		}
	}
	if !Known(mt) {
		return "", &Error{Kind: KindUnsupported, Detail: fmt.Sprintf("media type %q is not a supported manifest type", mt)}
	}
	return mt, nil
}

// checkDescriptor validates one descriptor: a media type, a digest of an
// allowed algorithm, a non-negative size, and embedded data that matches
// both (image-spec "Descriptor": data MUST match digest and size).
func checkDescriptor(where string, d v1.Descriptor) error {
	if d.MediaType == "" {
		return invalid("%s: mediaType is required", where)
	}
	if err := d.Digest.Validate(); err != nil {
		return invalid("%s: digest %q: %v", where, d.Digest, err)
	}
	if alg := d.Digest.Algorithm(); alg != digest.SHA256 && alg != digest.SHA512 {
		return invalid("%s: digest algorithm %s is not allowed", where, alg)
	}
	if d.Size < 0 {
		return invalid("%s: negative size", where)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return invalid("%s: data has %d bytes, size says %d", where, len(d.Data), d.Size)
		}
		if d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return invalid("%s: data does not match its digest", where)
		}
	}
	return nil
}

// Blobs returns the descriptors whose content must be present in the
// repository: config and layers, except non-distributable layers that
// carry URLs, which by definition may never be pushed (image-spec
// "Non-distributable layers", Docker foreign layers).
func (m *Manifest) Blobs() []v1.Descriptor {
	if m.Config == nil {
		return nil
	}
	out := make([]v1.Descriptor, 0, len(m.Layers)+1)
	out = append(out, *m.Config)
	for _, l := range m.Layers {
		if len(l.URLs) > 0 && (strings.Contains(l.MediaType, "nondistributable") || l.MediaType == dockerForeignLayer) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// Children returns the manifests an index references.
func (m *Manifest) Children() []v1.Descriptor { return m.Manifests }

// Descriptor describes this manifest, stored at digest d with size bytes,
// as the referrers API lists it.
func (m *Manifest) Descriptor(d digest.Digest, size int64) v1.Descriptor {
	return v1.Descriptor{
		MediaType:    m.MediaType,
		Digest:       d,
		Size:         size,
		ArtifactType: m.ArtifactType,
		Annotations:  m.Annotations,
	}
}
