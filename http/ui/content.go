package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
)

// What the UI reads of stored content. Manifests were validated when they
// were pushed, but configs are arbitrary blobs and artifacts put anything
// in them: everything here is parsed leniently and a part that does not
// parse is shown as such, never as a failed page.

// Kinds of content, as the UI labels them.
const (
	kindImage    = "image"
	kindIndex    = "index"
	kindArtifact = "artifact"
)

// imageConfigTypes are the config media types of runnable images.
var imageConfigTypes = []string{v1.MediaTypeImageConfig, "application/vnd.docker.container.image.v1+json"}

// summary is what a listing shows of a manifest.
type summary struct {
	Kind      string
	Platforms []string
	Size      int64 // the manifest's referenced content: config and layers, or the children
	parsed    *manifest.Manifest
	err       error
}

// summarize parses m. Platforms of an image come from its config, which
// config reads (nil: not wanted).
func summarize(m engine.ManifestInfo, config func(d v1.Descriptor) (*v1.Image, error)) summary {
	var s summary
	// Stored manifests were validated when pushed, so this parse is the
	// same one and only fails on records older than a validation rule.
	if s.parsed, s.err = manifest.Parse(m.MediaType, m.Payload); s.err != nil {
		s.Kind = kindArtifact
		return s
	}
	b := s.parsed
	switch {
	case manifest.IsIndex(b.MediaType):
		s.Kind = kindIndex
		for _, c := range b.Manifests {
			s.Size += c.Size
			if c.Platform != nil {
				s.Platforms = append(s.Platforms, platform(*c.Platform))
			}
		}
		return s
	case b.Config == nil || !slices.Contains(imageConfigTypes, b.Config.MediaType):
		s.Kind = kindArtifact
	default:
		s.Kind = kindImage
	}
	if b.Config != nil {
		s.Size += b.Config.Size
	}
	for _, l := range b.Layers {
		s.Size += l.Size
	}
	if s.Kind == kindImage && config != nil {
		if img, err := config(*b.Config); err == nil {
			s.Platforms = []string{platform(img.Platform)}
		}
	}
	return s
}

func platform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// maxConfig bounds the config blob the UI parses: real image configs are
// kilobytes; an artifact may put anything in its config.
const maxConfig = 4 << 20

// errNotImageConfig says a config is not a runnable image's.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// imageConfig reads and parses the config blob d of repo.
func (u *UI) imageConfig(ctx context.Context, repo string, d v1.Descriptor) (*v1.Image, error) {
	if !slices.Contains(imageConfigTypes, d.MediaType) {
		return nil, &configError{fmt.Sprintf("the config is not an image config (media type %s)", d.MediaType)}
	}
	if d.Size > maxConfig {
		return nil, &configError{fmt.Sprintf("the config is %d bytes, over the %d the UI reads", d.Size, maxConfig)}
	}
	if err := d.Digest.Validate(); err != nil {
		return nil, &configError{"the config's digest is malformed"}
	}
	f, _, err := u.d.Registry.OpenBlob(ctx, repo, d.Digest)
	if err != nil {
		return nil, &configError{"the config blob is not in the repository"}
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, err
	}
	var img v1.Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return nil, &configError{"the config is not valid JSON: " + err.Error()}
	}
	return &img, nil
}

// pair is one entry of a map, for listing maps in key order.
type pair struct{ Key, Value string }

// valueMax bounds a label or annotation value on a page: a manifest may
// carry megabytes in one.
const valueMax = 4 << 10

func pairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{clip(k), clip(m[k])})
	}
	return out
}

// clip cuts s to valueMax bytes, saying how long it was.
func clip(s string) string {
	if len(s) <= valueMax {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(s[:valueMax], ""), len(s))
}

// referrerGroup is the referrers of one artifact type.
type referrerGroup struct {
	Type  string
	Items []v1.Descriptor
}

// groupReferrers groups by artifact type (signatures, SBOMs,
// attestations), in type order; a referrer without one is grouped under
// its media type.
func groupReferrers(refs []v1.Descriptor) []referrerGroup {
	by := map[string][]v1.Descriptor{}
	for _, r := range refs {
		t := r.ArtifactType
		if t == "" {
			t = r.MediaType
		}
		by[t] = append(by[t], r)
	}
	out := make([]referrerGroup, 0, len(by))
	for _, t := range slices.Sorted(maps.Keys(by)) {
		out = append(out, referrerGroup{Type: t, Items: by[t]})
	}
	return out
}

// validDigest keeps a descriptor's digest out of a link unless it is one:
// it is content from the manifest, not something the UI made.
func validDigest(d digest.Digest) bool { return d.Validate() == nil }
