package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxSize is the largest manifest the registry accepts; the HTTP layer
// answers 413 above it. The distribution spec ("Pushing Manifests"):
// registries SHOULD enforce a limit and SHOULD accept at least 4 MB. Parse
// itself does not check it.
const MaxSize = 4 << 20

// Manifest is what the registry needs to know about a pushed manifest. The
// descriptors are the payload's own, validated; the payload bytes stay the
// caller's and are stored unchanged.
type Manifest struct {
	// MediaType is the effective media type, one of the four constants.
	MediaType string
	// ArtifactType is what the referrers API reports for this manifest
	// (distribution-spec "Listing Referrers"): the manifest's artifactType;
	// else, for an image manifest, its config descriptor's mediaType (for
	// a plain image that is the image config type); else, for an index,
	// "".
	ArtifactType string
	Subject      *v1.Descriptor    // nil when none
	Config       *v1.Descriptor    // image manifests only
	Layers       []v1.Descriptor   // image manifests only: all layers, foreign ones included
	Manifests    []v1.Descriptor   // indexes only: the children
	Annotations  map[string]string // nil when none
}

// wire is the union of the fields of the four supported shapes (the
// fields of v1.Manifest and v1.Index, with presence kept: config is a
// pointer and nil slices mean absent or null). Unknown fields are ignored,
// as image-spec requires of implementations that store manifests.
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

// Parse validates payload as a manifest pushed with the given Content-Type
// header value, which may be empty or carry parameters. Every failure is
// an *Error.
func Parse(contentType string, payload []byte) (*Manifest, error) {
	header := headerType(contentType)
	if !generic(header) && !Known(header) {
		return nil, errorf(KindUnsupported, "Content-Type %s is not a supported manifest media type", clip(header))
	}
	w, err := decode(payload)
	if err != nil {
		return nil, err
	}
	// image-spec "Image Manifest" and "Image Index": schemaVersion is
	// REQUIRED and MUST be 2; Docker schema2 uses 2 as well. Schema 1
	// (signed, deprecated) manifests are refused here.
	if w.SchemaVersion == nil {
		return nil, invalid("schemaVersion is required")
	}
	if *w.SchemaVersion != 2 {
		return nil, invalid("schemaVersion %d is not supported, only 2", *w.SchemaVersion)
	}
	mt, err := effectiveType(header, w)
	if err != nil {
		return nil, err
	}
	m := &Manifest{MediaType: mt, ArtifactType: w.ArtifactType, Annotations: w.Annotations}
	// image-spec: artifactType, if defined, MUST comply with RFC 6838.
	if w.ArtifactType != "" && !validMediaType(w.ArtifactType) {
		return nil, invalid("artifactType %s is not a valid media type", clip(w.ArtifactType))
	}
	if w.Subject != nil {
		// The subject need not exist (distribution-spec "Push": a
		// registry MUST accept a subject it does not have), but it must
		// be a descriptor.
		if err := checkDescriptor(field{"subject", -1}, w.Subject); err != nil {
			return nil, err
		}
		m.Subject = w.Subject
	}
	if IsIndex(mt) {
		err = parseIndex(m, w)
	} else {
		err = parseImage(m, w)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// decode unmarshals payload, which must be one UTF-8 JSON object.
func decode(payload []byte) (*wire, error) {
	// RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8.
	// encoding/json would quietly replace bad bytes with U+FFFD, so we
	// would validate a different document than a strict client reads.
	if !utf8.Valid(payload) {
		return nil, invalid("payload is not valid UTF-8")
	}
	if p := bytes.TrimLeft(payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return nil, invalid("payload is not a JSON object")
	}
	var w wire
	if err := json.Unmarshal(payload, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, invalid("%s: JSON %s where %s is expected", te.Field, te.Value, te.Type)
		}
		return nil, invalid("payload is not valid JSON: %v", err)
	}
	return &w, nil
}

// effectiveType decides the manifest's media type. The distribution spec
// ("Pushing Manifests") has clients set Content-Type to the manifest's
// mediaType field when it has one, and clients reject a pulled manifest
// whose mediaType differs from its Content-Type ("Pulling manifests"), so a
// push where the two disagree is refused rather than stored as a manifest
// that nobody could pull. A Content-Type that names no type defers to the
// payload: its mediaType, else its shape.
func effectiveType(header string, w *wire) (string, error) {
	body := w.MediaType
	switch {
	case !generic(header): // Known(header), checked by Parse
		if body != "" && body != header {
			return "", invalid("mediaType %s does not match Content-Type %s", clip(body), header)
		}
		return header, nil
	case body != "":
		if !Known(body) {
			return "", errorf(KindUnsupported, "mediaType %s is not a supported manifest media type", clip(body))
		}
		return body, nil
	}
	// Neither names a type: only an OCI manifest may omit mediaType
	// (image-spec: it is reserved for compatibility and SHOULD be used), so
	// tell image manifest from index by shape. A payload with the fields
	// of both is the ambiguity of CVE-2021-41190 and is refused.
	index := w.Manifests != nil
	image := w.Config != nil || w.Layers != nil
	switch {
	case index && image:
		return "", invalid("payload has both manifests and config/layers; set mediaType")
	case index:
		return OCIIndex, nil
	case image:
		return OCIManifest, nil
	}
	return "", invalid("cannot tell the manifest type: no Content-Type, mediaType, config, layers or manifests")
}

// parseIndex validates an OCI image index or Docker manifest list.
func parseIndex(m *Manifest, w *wire) error {
	// CVE-2021-41190: a document that parses both as an index and as an
	// image manifest lets two clients see different content under one
	// digest. An index carries no config and no layers.
	if w.Config != nil || w.Layers != nil {
		return invalid("an index must not have config or layers")
	}
	// image-spec "Image Index": manifests is REQUIRED; it MAY be empty.
	if w.Manifests == nil {
		return invalid("manifests is required")
	}
	for i := range w.Manifests {
		if err := checkDescriptor(field{"manifests", i}, &w.Manifests[i]); err != nil {
			return err
		}
	}
	m.Manifests = w.Manifests
	return nil
}

// parseImage validates an OCI image manifest or Docker schema2 manifest.
func parseImage(m *Manifest, w *wire) error {
	if w.Manifests != nil { // CVE-2021-41190, as in parseIndex
		return invalid("an image manifest must not have manifests")
	}
	// image-spec "Image Manifest": config is REQUIRED. layers SHOULD have
	// an entry "for portability", so an empty or absent list is accepted:
	// artifacts without layers are valid.
	if w.Config == nil {
		return invalid("config is required")
	}
	if err := checkDescriptor(field{"config", -1}, w.Config); err != nil {
		return err
	}
	for i := range w.Layers {
		if err := checkDescriptor(field{"layers", i}, &w.Layers[i]); err != nil {
			return err
		}
	}
	m.Config, m.Layers = w.Config, w.Layers
	// distribution-spec "Listing Referrers": if artifactType is empty or
	// missing in an image manifest, the referrers API reports the config
	// descriptor's mediaType. For an index it is omitted.
	if m.ArtifactType == "" {
		m.ArtifactType = w.Config.MediaType
	}
	return nil
}

// Blobs returns the descriptors whose content must be present as blobs in
// the repository: the config and the layers of an image manifest, except
// non-distributable layers that carry URLs (OCI media types containing
// "nondistributable", Docker's foreign layer type): those are fetched from
// their URLs and may legitimately never be pushed (image-spec "Image Layer
// Filesystem Changeset", non-distributable layers). Indexes have none. A
// digest may appear more than once, e.g. two identical empty layers.
func (m *Manifest) Blobs() []v1.Descriptor {
	if m.Config == nil {
		return nil
	}
	out := make([]v1.Descriptor, 0, len(m.Layers)+1)
	out = append(out, *m.Config)
	for _, l := range m.Layers {
		if foreign(l) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func foreign(d v1.Descriptor) bool {
	return len(d.URLs) > 0 &&
		(strings.Contains(d.MediaType, "nondistributable") || d.MediaType == DockerForeignLayer)
}

// Children returns the child manifest descriptors of an index or manifest
// list, nil for an image manifest. The slice is the Manifest's own.
func (m *Manifest) Children() []v1.Descriptor { return m.Manifests }

// Descriptor returns the descriptor the referrers API lists for this
// manifest stored at digest d with size bytes (distribution-spec "Listing
// Referrers": mediaType, digest, size, artifactType, annotations).
func (m *Manifest) Descriptor(d digest.Digest, size int64) v1.Descriptor {
	var ann map[string]string
	if len(m.Annotations) > 0 {
		ann = maps.Clone(m.Annotations) // the caller may keep or change it
	}
	return v1.Descriptor{
		MediaType:    m.MediaType,
		Digest:       d,
		Size:         size,
		ArtifactType: m.ArtifactType,
		Annotations:  ann,
	}
}
