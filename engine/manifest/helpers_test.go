package manifest

import (
	"encoding/base64"
	"encoding/json"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// obj is a JSON object under construction; tests build payloads as maps so
// that any field, known or not, can be added, dropped or given a wrong type.
type obj = map[string]any

// desc is a descriptor of content under media type mt, sha256 unless alg
// says otherwise, with extra fields merged in.
func desc(mt, content string, extra ...obj) obj {
	return descAlg(digest.SHA256, mt, content, extra...)
}

func descAlg(alg digest.Algorithm, mt, content string, extra ...obj) obj {
	d := obj{"mediaType": mt, "digest": alg.FromString(content).String(), "size": len(content)}
	for _, e := range extra {
		d = with(d, e)
	}
	return d
}

// with returns a copy of o with fields set; a nil value deletes the field.
func with(o obj, fields obj) obj {
	c := make(obj, len(o)+len(fields))
	for k, v := range o {
		c[k] = v
	}
	for k, v := range fields {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func enc(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	configBody = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	emptyJSON  = `{}`
	// Foreign layers are never pushed, so their content is only a name.
	foreignBody = "foreign layer content"
)

var (
	ociConfig = desc(v1.MediaTypeImageConfig, configBody)
	layer1    = desc(v1.MediaTypeImageLayerGzip, "layer one")
	layer2    = desc(v1.MediaTypeImageLayerZstd, "layer two")
	emptyDesc = desc(v1.MediaTypeEmptyJSON, emptyJSON, obj{"data": b64(emptyJSON)})

	ociImage = obj{
		"schemaVersion": 2,
		"mediaType":     OCIManifest,
		"config":        ociConfig,
		"layers":        []any{layer1, layer2},
	}
	imageChild = desc(OCIManifest, string(enc(ociImage)), obj{"platform": obj{"architecture": "amd64", "os": "linux"}})
	indexChild = desc(OCIIndex, `{"schemaVersion":2,"manifests":[]}`)
	ociIndex   = obj{
		"schemaVersion": 2,
		"mediaType":     OCIIndex,
		"manifests":     []any{imageChild, indexChild},
	}
	subject = desc(OCIManifest, string(enc(ociImage)))

	dockerImage = obj{
		"schemaVersion": 2,
		"mediaType":     DockerManifest,
		"config":        desc("application/vnd.docker.container.image.v1+json", configBody),
		"layers": []any{
			desc("application/vnd.docker.image.rootfs.diff.tar.gzip", "docker layer"),
		},
	}
	dockerList = obj{
		"schemaVersion": 2,
		"mediaType":     DockerManifestList,
		"manifests": []any{
			desc(DockerManifest, string(enc(dockerImage)), obj{"platform": obj{"architecture": "arm64", "os": "linux", "variant": "v8"}}),
		},
	}
	artifact = obj{
		"schemaVersion": 2,
		"mediaType":     OCIManifest,
		"artifactType":  "application/vnd.example.sbom.v1",
		"config":        emptyDesc,
		"layers":        []any{desc("application/vnd.example.sbom.v1+json", `{"sbom":true}`)},
		"annotations":   obj{"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
	}
)
