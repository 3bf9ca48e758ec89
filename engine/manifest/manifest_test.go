package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type parseCase struct {
	name    string
	ct      string // Content-Type
	payload []byte
	kind    Kind // 0: Parse must succeed
	detail  string
	check   func(t *testing.T, m *Manifest)
}

// digests lists the digests of ds, for comparing Blobs and Children.
func digests(ds []v1.Descriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Digest.String()
	}
	return out
}

func wantDigests(t *testing.T, what string, got []v1.Descriptor, want ...obj) {
	t.Helper()
	g := strings.Join(digests(got), ",")
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = w["digest"].(string)
	}
	if w := strings.Join(ws, ","); g != w {
		t.Errorf("%s = [%s], want [%s]", what, g, w)
	}
}

func wantType(mt, at string) func(t *testing.T, m *Manifest) {
	return func(t *testing.T, m *Manifest) {
		t.Helper()
		if m.MediaType != mt {
			t.Errorf("MediaType = %q, want %q", m.MediaType, mt)
		}
		if m.ArtifactType != at {
			t.Errorf("ArtifactType = %q, want %q", m.ArtifactType, at)
		}
	}
}

func validCases() []parseCase {
	imageCheck := func(t *testing.T, m *Manifest) {
		wantType(OCIManifest, v1.MediaTypeImageConfig)(t, m)
		if m.Config == nil || m.Config.Digest.String() != ociConfig["digest"] {
			t.Errorf("Config = %+v", m.Config)
		}
		wantDigests(t, "Layers", m.Layers, layer1, layer2)
		wantDigests(t, "Blobs", m.Blobs(), ociConfig, layer1, layer2)
		wantDigests(t, "Children", m.Children())
		if m.Subject != nil || m.Manifests != nil {
			t.Errorf("Subject = %v, Manifests = %v, want none", m.Subject, m.Manifests)
		}
	}
	indexCheck := func(t *testing.T, m *Manifest) {
		wantType(OCIIndex, "")(t, m)
		wantDigests(t, "Children", m.Children(), imageChild, indexChild)
		wantDigests(t, "Blobs", m.Blobs())
		if m.Config != nil || m.Layers != nil {
			t.Errorf("index has Config %v, Layers %v", m.Config, m.Layers)
		}
		if c := m.Children()[0]; c.Platform == nil || c.Platform.Architecture != "amd64" {
			t.Errorf("child platform = %+v", c.Platform)
		}
	}
	// Non-distributable layers are deprecated (image-spec #965) but still
	// pushed by clients, and the conformance suite sends them: the literal
	// media types keep the test off the deprecated constants.
	ndLayer := desc("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", foreignBody, obj{"urls": []string{"https://example.com/layer"}})
	ndNoURL := desc("application/vnd.oci.image.layer.nondistributable.v1.tar", "nd without urls")
	dockerForeign := desc(DockerForeignLayer, foreignBody+"2", obj{"urls": []string{"https://example.com/win"}})
	sha512Config := descAlg(digest.SHA512, v1.MediaTypeImageConfig, configBody)
	sha512Layer := descAlg(digest.SHA512, v1.MediaTypeImageLayer, "layer", obj{"data": b64("layer")})
	sha512Subject := descAlg(digest.SHA512, OCIManifest, "subject")
	custom := obj{"org.example.custom": "x", "org.example.nested": obj{"a": []any{1, "b", nil}}}
	noLayers := obj{"schemaVersion": 2, "mediaType": OCIManifest, "config": ociConfig}

	return []parseCase{
		{name: "oci image", ct: OCIManifest, payload: enc(ociImage), check: imageCheck},
		{name: "oci image, content-type with parameters", ct: OCIManifest + "; charset=utf-8", payload: enc(ociImage), check: imageCheck},
		{name: "oci image, malformed parameters ignored", ct: OCIManifest + "; ;=;", payload: enc(ociImage), check: imageCheck},
		{name: "oci image, content-type case-insensitive", ct: strings.ToUpper(OCIManifest), payload: enc(ociImage), check: imageCheck},
		{name: "oci image, no content-type", payload: enc(ociImage), check: imageCheck},
		{name: "oci image, octet-stream", ct: "application/octet-stream", payload: enc(ociImage), check: imageCheck},
		{name: "oci image, no mediaType, detected", payload: enc(with(ociImage, obj{"mediaType": nil})), check: imageCheck},
		{name: "oci image, empty mediaType, content-type", ct: OCIManifest, payload: enc(with(ociImage, obj{"mediaType": ""})), check: imageCheck},
		{name: "oci image, leading whitespace", ct: OCIManifest, payload: append([]byte(" \n\t"), enc(ociImage)...), check: imageCheck},
		{name: "oci image, custom fields everywhere", ct: OCIManifest, payload: enc(with(ociImage, with(custom, obj{
			"config": with(ociConfig, custom),
			"layers": []any{with(layer1, custom), with(layer2, obj{"platform": with(obj{"os": "linux"}, custom)})},
		}))), check: imageCheck},
		{name: "oci image, field named like a custom one", ct: OCIManifest, payload: enc(with(ociImage, obj{"manifestsX": []any{}})), check: imageCheck},
		{name: "oci index with nested index child", ct: OCIIndex, payload: enc(ociIndex), check: indexCheck},
		{name: "oci index, no mediaType, detected", payload: enc(with(ociIndex, obj{"mediaType": nil})), check: indexCheck},
		{name: "oci index, custom fields", ct: OCIIndex, payload: enc(with(ociIndex, with(custom, obj{
			"manifests": []any{with(imageChild, custom), with(indexChild, custom)},
		}))), check: indexCheck},
		{name: "oci index, empty", ct: OCIIndex, payload: enc(with(ociIndex, obj{"manifests": []any{}})), check: func(t *testing.T, m *Manifest) {
			wantType(OCIIndex, "")(t, m)
			if m.Children() == nil || len(m.Children()) != 0 {
				t.Errorf("Children = %v, want empty", m.Children())
			}
		}},
		{name: "docker schema2", ct: DockerManifest, payload: enc(dockerImage), check: func(t *testing.T, m *Manifest) {
			wantType(DockerManifest, "application/vnd.docker.container.image.v1+json")(t, m)
			wantDigests(t, "Blobs", m.Blobs(), dockerImage["config"].(obj), dockerImage["layers"].([]any)[0].(obj))
		}},
		{name: "docker schema2, mediaType only in payload", payload: enc(dockerImage), check: wantType(DockerManifest, "application/vnd.docker.container.image.v1+json")},
		{name: "docker schema2, no mediaType in payload", ct: DockerManifest, payload: enc(with(dockerImage, obj{"mediaType": nil})), check: wantType(DockerManifest, "application/vnd.docker.container.image.v1+json")},
		{name: "docker schema2, foreign layer with urls", ct: DockerManifest, payload: enc(with(dockerImage, obj{
			"layers": []any{dockerForeign, dockerImage["layers"].([]any)[0]},
		})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Layers", m.Layers, dockerForeign, dockerImage["layers"].([]any)[0].(obj))
			wantDigests(t, "Blobs", m.Blobs(), dockerImage["config"].(obj), dockerImage["layers"].([]any)[0].(obj))
		}},
		{name: "docker manifest list", ct: DockerManifestList, payload: enc(dockerList), check: func(t *testing.T, m *Manifest) {
			wantType(DockerManifestList, "")(t, m)
			wantDigests(t, "Children", m.Children(), dockerList["manifests"].([]any)[0].(obj))
			wantDigests(t, "Blobs", m.Blobs())
		}},
		{name: "artifact with artifactType", ct: OCIManifest, payload: enc(artifact), check: func(t *testing.T, m *Manifest) {
			wantType(OCIManifest, "application/vnd.example.sbom.v1")(t, m)
			wantDigests(t, "Blobs", m.Blobs(), emptyDesc, artifact["layers"].([]any)[0].(obj))
			if string(m.Config.Data) != emptyJSON {
				t.Errorf("config data = %q", m.Config.Data)
			}
		}},
		{name: "artifact typed by config mediaType", ct: OCIManifest, payload: enc(with(artifact, obj{
			"artifactType": nil,
			"config":       desc("application/vnd.example.config.v1+json", `{"x":1}`),
		})), check: wantType(OCIManifest, "application/vnd.example.config.v1+json")},
		{name: "artifact, empty artifactType falls back to config", ct: OCIManifest, payload: enc(with(artifact, obj{"artifactType": ""})),
			check: wantType(OCIManifest, v1.MediaTypeEmptyJSON)},
		{name: "artifact without layers", ct: OCIManifest, payload: enc(with(artifact, obj{"layers": []any{}})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Blobs", m.Blobs(), emptyDesc)
		}},
		{name: "image with empty layers", ct: OCIManifest, payload: enc(with(ociImage, obj{"layers": []any{}})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Blobs", m.Blobs(), ociConfig)
		}},
		{name: "image with absent layers", ct: OCIManifest, payload: enc(noLayers), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Blobs", m.Blobs(), ociConfig)
		}},
		{name: "image with null layers", ct: OCIManifest, payload: enc(with(noLayers, obj{"layers": nil, "manifests": nil})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Blobs", m.Blobs(), ociConfig)
		}},
		{name: "image with subject", ct: OCIManifest, payload: enc(with(ociImage, obj{"subject": subject, "annotations": obj{"a": "b"}})),
			check: func(t *testing.T, m *Manifest) {
				wantType(OCIManifest, v1.MediaTypeImageConfig)(t, m)
				if m.Subject == nil || m.Subject.Digest.String() != subject["digest"] || m.Subject.MediaType != OCIManifest {
					t.Fatalf("Subject = %+v", m.Subject)
				}
				d := digest.FromString("self")
				got := m.Descriptor(d, 123)
				if got.MediaType != OCIManifest || got.Digest != d || got.Size != 123 ||
					got.ArtifactType != v1.MediaTypeImageConfig || got.Annotations["a"] != "b" || got.Data != nil {
					t.Errorf("Descriptor = %+v", got)
				}
				got.Annotations["a"] = "changed"
				if m.Annotations["a"] != "b" {
					t.Error("Descriptor shares its annotations with the Manifest")
				}
			}},
		{name: "index with subject and artifactType", ct: OCIIndex, payload: enc(with(ociIndex, obj{
			"subject":      subject,
			"artifactType": "application/vnd.example.index.v1",
			"annotations":  obj{"org.example": "yes"},
		})), check: func(t *testing.T, m *Manifest) {
			wantType(OCIIndex, "application/vnd.example.index.v1")(t, m)
			if m.Subject == nil || m.Subject.Digest.String() != subject["digest"] {
				t.Fatalf("Subject = %+v", m.Subject)
			}
			got := m.Descriptor(digest.FromString("idx"), 9)
			if got.ArtifactType != "application/vnd.example.index.v1" || got.MediaType != OCIIndex || got.Annotations["org.example"] != "yes" {
				t.Errorf("Descriptor = %+v", got)
			}
		}},
		{name: "index with subject, no artifactType", ct: OCIIndex, payload: enc(with(ociIndex, obj{"subject": subject})), check: func(t *testing.T, m *Manifest) {
			wantType(OCIIndex, "")(t, m)
			if d := m.Descriptor(digest.FromString("idx"), 9); d.ArtifactType != "" || d.Annotations != nil {
				t.Errorf("Descriptor = %+v", d)
			}
		}},
		{name: "data field matching", ct: OCIManifest, payload: enc(with(ociImage, obj{
			"config": with(ociConfig, obj{"data": b64(configBody)}),
			"layers": []any{desc(v1.MediaTypeImageLayer, "", obj{"data": ""})},
		})), check: func(t *testing.T, m *Manifest) {
			if string(m.Config.Data) != configBody {
				t.Errorf("config data = %q", m.Config.Data)
			}
		}},
		{name: "data null", ct: OCIManifest, payload: enc(with(ociImage, obj{"config": with(ociConfig, obj{"data": json.RawMessage("null")})})),
			check: func(t *testing.T, m *Manifest) {
				if m.Config.Data != nil {
					t.Errorf("config data = %q", m.Config.Data)
				}
			}},
		{name: "sha512 digests", ct: OCIManifest, payload: enc(with(ociImage, obj{
			"config":  sha512Config,
			"layers":  []any{sha512Layer},
			"subject": sha512Subject,
		})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Blobs", m.Blobs(), sha512Config, sha512Layer)
			if m.Subject.Digest.Algorithm() != digest.SHA512 {
				t.Errorf("subject digest %s", m.Subject.Digest)
			}
		}},
		{name: "sha512 index child", ct: OCIIndex, payload: enc(with(ociIndex, obj{
			"manifests": []any{descAlg(digest.SHA512, OCIManifest, "child")},
		})), check: wantType(OCIIndex, "")},
		{name: "nondistributable layers", ct: OCIManifest, payload: enc(with(ociImage, obj{
			"layers": []any{ndLayer, ndNoURL, layer1},
		})), check: func(t *testing.T, m *Manifest) {
			wantDigests(t, "Layers", m.Layers, ndLayer, ndNoURL, layer1)
			// with URLs: may never be pushed; without: nowhere else to get it.
			wantDigests(t, "Blobs", m.Blobs(), ociConfig, ndNoURL, layer1)
		}},
		{name: "layer media type with parameters", ct: OCIManifest, payload: enc(with(ociImage, obj{
			"layers": []any{desc("text/plain; charset=utf-8", "hello")},
		})), check: wantType(OCIManifest, v1.MediaTypeImageConfig)},
		{name: "unknown layer media type", ct: OCIManifest, payload: enc(with(ociImage, obj{
			"layers": []any{desc("application/vnd.example.thing+tar.gz", "x")},
		})), check: wantType(OCIManifest, v1.MediaTypeImageConfig)},
		{name: "zero size", ct: OCIManifest, payload: enc(with(ociImage, obj{"layers": []any{desc(v1.MediaTypeImageLayer, "")}})),
			check: wantType(OCIManifest, v1.MediaTypeImageConfig)},
	}
}

func invalidCases() []parseCase {
	bad := func(name string, o obj, kind Kind, detail string) parseCase {
		return parseCase{name: name, ct: OCIManifest, payload: enc(o), kind: kind, detail: detail}
	}
	withLayer := func(l obj) obj { return with(ociImage, obj{"layers": []any{layer1, l}}) }
	sha256Hex := strings.TrimPrefix(layer1["digest"].(string), "sha256:")
	return []parseCase{
		{name: "empty payload", ct: OCIManifest, payload: nil, kind: KindInvalid, detail: "not a JSON object"},
		{name: "bad json", ct: OCIManifest, payload: []byte(`{"schemaVersion":2,`), kind: KindInvalid, detail: "not valid JSON"},
		{name: "json array", ct: OCIManifest, payload: []byte(`[{"schemaVersion":2}]`), kind: KindInvalid, detail: "not a JSON object"},
		{name: "json null", ct: OCIManifest, payload: []byte(`null`), kind: KindInvalid, detail: "not a JSON object"},
		{name: "json string", ct: OCIManifest, payload: []byte(`"x"`), kind: KindInvalid, detail: "not a JSON object"},
		{name: "trailing data", ct: OCIManifest, payload: append(enc(ociImage), " {}"...), kind: KindInvalid, detail: "not valid JSON"},
		{name: "invalid utf-8", ct: OCIManifest, payload: []byte("{\"a\":\"\xff\"," + string(enc(ociImage)[1:])), kind: KindInvalid, detail: "UTF-8"},
		{name: "invalid utf-8 raw", ct: OCIManifest, payload: []byte("{\"schemaVersion\":2,\"x\":\"\xc3\x28\"}"), kind: KindInvalid, detail: "UTF-8"},
		{name: "byte order mark", ct: OCIManifest, payload: append([]byte("\xef\xbb\xbf"), enc(ociImage)...), kind: KindInvalid, detail: "not a JSON object"},
		bad("schemaVersion 1", with(ociImage, obj{"schemaVersion": 1}), KindInvalid, "schemaVersion 1"),
		bad("schemaVersion absent", with(ociImage, obj{"schemaVersion": nil}), KindInvalid, "schemaVersion is required"),
		bad("schemaVersion string", with(ociImage, obj{"schemaVersion": "2"}), KindInvalid, "schemaVersion"),
		bad("schemaVersion float", with(ociImage, obj{"schemaVersion": 2.5}), KindInvalid, "schemaVersion"),
		{name: "schema1 content-type", ct: "application/vnd.docker.distribution.manifest.v1+prettyjws", payload: enc(with(ociImage, obj{"schemaVersion": 1})), kind: KindUnsupported},
		{name: "mediaType mismatch", ct: OCIManifest, payload: enc(with(ociImage, obj{"mediaType": OCIIndex})), kind: KindInvalid, detail: "does not match Content-Type"},
		{name: "mediaType mismatch docker", ct: DockerManifest, payload: enc(ociImage), kind: KindInvalid, detail: "does not match Content-Type"},
		{name: "mediaType mismatch index", ct: OCIIndex, payload: enc(dockerList), kind: KindInvalid, detail: "does not match Content-Type"},
		{name: "mediaType differs in case", ct: OCIManifest, payload: enc(with(ociImage, obj{"mediaType": strings.ToUpper(OCIManifest)})), kind: KindInvalid, detail: "does not match"},
		{name: "mediaType not a string", ct: OCIManifest, payload: enc(with(ociImage, obj{"mediaType": 7})), kind: KindInvalid, detail: "mediaType"},
		{name: "unsupported content-type", ct: "application/vnd.oci.artifact.manifest.v1+json", payload: enc(ociImage), kind: KindUnsupported},
		{name: "unsupported content-type, garbage payload", ct: "text/html", payload: []byte("<html>"), kind: KindUnsupported},
		{name: "unsupported mediaType in payload", payload: enc(with(ociImage, obj{"mediaType": "application/vnd.oci.artifact.manifest.v1+json"})), kind: KindUnsupported},
		{name: "unsupported mediaType, octet-stream", ct: "application/octet-stream", payload: enc(with(ociImage, obj{"mediaType": "application/vnd.example+json"})), kind: KindUnsupported},
		{name: "no type at all", payload: []byte(`{"schemaVersion":2}`), kind: KindInvalid, detail: "cannot tell"},
		{name: "ambiguous without mediaType", payload: enc(with(ociImage, obj{"mediaType": nil, "manifests": []any{imageChild}})), kind: KindInvalid, detail: "both"},
		{name: "index with layers", ct: OCIIndex, payload: enc(with(ociIndex, obj{"layers": []any{layer1}})), kind: KindInvalid, detail: "must not have config or layers"},
		{name: "index with config", ct: OCIIndex, payload: enc(with(ociIndex, obj{"config": ociConfig})), kind: KindInvalid, detail: "must not have config or layers"},
		{name: "image with manifests", ct: OCIManifest, payload: enc(with(ociImage, obj{"manifests": []any{}})), kind: KindInvalid, detail: "must not have manifests"},
		{name: "index without manifests", ct: OCIIndex, payload: []byte(`{"schemaVersion":2,"mediaType":"` + OCIIndex + `"}`), kind: KindInvalid, detail: "manifests is required"},
		{name: "index, manifests not a list", ct: OCIIndex, payload: enc(with(ociIndex, obj{"manifests": obj{}})), kind: KindInvalid, detail: "manifests"},
		bad("config missing", with(ociImage, obj{"config": nil}), KindInvalid, "config is required"),
		bad("config not an object", with(ociImage, obj{"config": "sha256:" + sha256Hex}), KindInvalid, "config"),
		bad("config without mediaType", with(ociImage, obj{"config": with(ociConfig, obj{"mediaType": nil})}), KindInvalid, "config.mediaType is required"),
		bad("config with bad mediaType", with(ociImage, obj{"config": with(ociConfig, obj{"mediaType": "json"})}), KindInvalid, "config.mediaType"),
		bad("config without digest", with(ociImage, obj{"config": with(ociConfig, obj{"digest": nil})}), KindDigest, "config.digest"),
		bad("config short digest", with(ociImage, obj{"config": with(ociConfig, obj{"digest": "sha256:abc"})}), KindDigest, "config.digest"),
		bad("config negative size", with(ociImage, obj{"config": with(ociConfig, obj{"size": -1})}), KindInvalid, "config.size -1 is negative"),
		bad("layer without mediaType", withLayer(with(layer2, obj{"mediaType": nil})), KindInvalid, "layers[1].mediaType is required"),
		bad("layer with control characters in mediaType", withLayer(with(layer2, obj{"mediaType": "application/x\n"})), KindInvalid, "layers[1].mediaType"),
		bad("layer mediaType with space", withLayer(with(layer2, obj{"mediaType": "application/x y"})), KindInvalid, "layers[1].mediaType"),
		bad("layer upper-case hex", withLayer(with(layer2, obj{"digest": "sha256:" + strings.ToUpper(sha256Hex)})), KindDigest, "layers[1].digest"),
		bad("layer digest without algorithm", withLayer(with(layer2, obj{"digest": sha256Hex})), KindDigest, "layers[1].digest"),
		bad("layer digest of unknown algorithm", withLayer(with(layer2, obj{"digest": "md5:d41d8cd98f00b204e9800998ecf8427e"})), KindDigest, "layers[1].digest"),
		bad("layer sha384 digest", withLayer(descAlg(digest.SHA384, v1.MediaTypeImageLayer, "x")), KindDigest, "unsupported"),
		bad("layer sha512 digest of sha256 length", withLayer(with(layer2, obj{"digest": "sha512:" + sha256Hex})), KindDigest, "layers[1].digest"),
		bad("layer digest not a string", withLayer(with(layer2, obj{"digest": 12})), KindInvalid, "digest"),
		bad("layer negative size", withLayer(with(layer2, obj{"size": -5})), KindInvalid, "layers[1].size -5"),
		bad("layer fractional size", withLayer(with(layer2, obj{"size": 1.5})), KindInvalid, "size"),
		bad("layer size over int64", with(ociImage, obj{"layers": []any{with(layer2, obj{"size": 1e20})}}), KindInvalid, "size"),
		bad("layer bad artifactType", withLayer(with(layer2, obj{"artifactType": "nope"})), KindInvalid, "layers[1].artifactType"),
		bad("layer urls not strings", withLayer(with(layer2, obj{"urls": []any{1}})), KindInvalid, "urls"),
		bad("data not base64", with(ociImage, obj{"config": with(ociConfig, obj{"data": "!!!"})}), KindInvalid, "base64"),
		bad("data of wrong size", with(ociImage, obj{"config": with(ociConfig, obj{"data": b64(configBody + " ")})}), KindInvalid, "config.data has"),
		bad("data of wrong content", with(ociImage, obj{"config": with(ociConfig, obj{"data": b64(strings.ToUpper(configBody))})}), KindInvalid, "config.data does not match"),
		bad("empty data for non-empty content", withLayer(with(layer2, obj{"data": ""})), KindInvalid, "layers[1].data has 0 bytes"),
		bad("sha512 data of wrong content", with(ociImage, obj{"layers": []any{descAlg(digest.SHA512, v1.MediaTypeImageLayer, "a", obj{"data": b64("b")})}}), KindInvalid, "layers[0].data does not match"),
		bad("artifactType invalid", with(artifact, obj{"artifactType": "not a media type"}), KindInvalid, "artifactType"),
		bad("annotations with non-string value", with(ociImage, obj{"annotations": obj{"a": 1}}), KindInvalid, "annotations"),
		bad("subject bad digest", with(ociImage, obj{"subject": with(subject, obj{"digest": "sha256:zz"})}), KindDigest, "subject.digest"),
		bad("subject negative size", with(ociImage, obj{"subject": with(subject, obj{"size": -1})}), KindInvalid, "subject.size"),
		bad("subject without mediaType", with(ociImage, obj{"subject": with(subject, obj{"mediaType": nil})}), KindInvalid, "subject.mediaType is required"),
		{name: "child bad digest", ct: OCIIndex, payload: enc(with(ociIndex, obj{"manifests": []any{imageChild, with(indexChild, obj{"digest": "sha256:"})}})), kind: KindDigest, detail: "manifests[1].digest"},
		{name: "child negative size", ct: OCIIndex, payload: enc(with(ociIndex, obj{"manifests": []any{with(imageChild, obj{"size": -1})}})), kind: KindInvalid, detail: "manifests[0].size"},
		{name: "child without mediaType", ct: DockerManifestList, payload: enc(with(dockerList, obj{"manifests": []any{with(imageChild, obj{"mediaType": ""})}})), kind: KindInvalid, detail: "manifests[0].mediaType is required"},
		{name: "child platform wrong type", ct: OCIIndex, payload: enc(with(ociIndex, obj{"manifests": []any{with(imageChild, obj{"platform": "linux"})}})), kind: KindInvalid, detail: "platform"},
		{name: "index subject bad digest", ct: OCIIndex, payload: enc(with(ociIndex, obj{"subject": with(subject, obj{"digest": "x"})})), kind: KindDigest, detail: "subject.digest"},
	}
}

func TestParse(t *testing.T) {
	cases := append(validCases(), invalidCases()...)
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.ct, tc.payload)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Parse: %v\npayload: %s", err, tc.payload)
				}
				if !Known(m.MediaType) {
					t.Errorf("MediaType %q is not Known", m.MediaType)
				}
				if tc.check != nil {
					tc.check(t, m)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want a %v error\npayload: %s", m, tc.kind, tc.payload)
			}
			if m != nil {
				t.Errorf("Parse returned a manifest with its error")
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *manifest.Error", err, err)
			}
			if me.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v (%v)", me.Kind, tc.kind, err)
			}
			if !strings.Contains(me.Detail, tc.detail) {
				t.Errorf("Detail = %q, want it to contain %q", me.Detail, tc.detail)
			}
			if !strings.Contains(err.Error(), me.Detail) {
				t.Errorf("Error() = %q does not carry the detail", err.Error())
			}
		})
	}
}

// TestDetailClipped checks that a hostile field cannot blow up an error
// detail (it ends up in a response and a log line).
func TestDetailClipped(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	for _, p := range [][]byte{
		enc(with(ociImage, obj{"config": with(ociConfig, obj{"digest": "sha256:" + long})})),
		enc(with(ociImage, obj{"config": with(ociConfig, obj{"mediaType": long + "\n"})})),
		enc(with(ociImage, obj{"mediaType": long})),
	} {
		_, err := Parse("", p)
		if err == nil {
			t.Fatal("Parse succeeded")
		}
		if n := len(err.Error()); n > 512 {
			t.Errorf("error is %d bytes long", n)
		}
	}
	if _, err := Parse(long, enc(ociImage)); err == nil || len(err.Error()) > 512 {
		t.Errorf("long Content-Type: %v", err)
	}
}

func TestKnown(t *testing.T) {
	for mt, want := range map[string]bool{
		OCIManifest:        true,
		OCIIndex:           true,
		DockerManifest:     true,
		DockerManifestList: true,
		"application/vnd.docker.distribution.manifest.v1+prettyjws": false,
		"application/vnd.oci.artifact.manifest.v1+json":             false,
		strings.ToUpper(OCIManifest):                                false,
		"":                                                          false,
	} {
		if got := Known(mt); got != want {
			t.Errorf("Known(%q) = %v, want %v", mt, got, want)
		}
	}
	for mt, want := range map[string]bool{OCIIndex: true, DockerManifestList: true, OCIManifest: false, DockerManifest: false} {
		if got := IsIndex(mt); got != want {
			t.Errorf("IsIndex(%q) = %v, want %v", mt, got, want)
		}
	}
}

func TestValidMediaType(t *testing.T) {
	for s, want := range map[string]bool{
		"application/vnd.oci.image.layer.v1.tar+gzip": true,
		"text/plain; charset=utf-8":                   true,
		"application/vnd.example!#$&^_.+-x":           true,
		"a/b":                                         true,
		"":                                            false,
		"application":                                 false,
		"application/":                                false,
		"/json":                                       false,
		"application/.json":                           false,
		"application/js on":                           false,
		"application/json\x00":                        false,
		"a/b/c":                                       false,
		strings.Repeat("a", 128) + "/b":               false,
		strings.Repeat("a", 127) + "/b":               true,
	} {
		if got := validMediaType(s); got != want {
			t.Errorf("validMediaType(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestKindString(t *testing.T) {
	for _, k := range []Kind{KindInvalid, KindUnsupported, KindDigest} {
		if strings.HasPrefix(k.String(), "Kind(") {
			t.Errorf("%d has no name", int(k))
		}
	}
	if Kind(0).String() != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", Kind(0).String())
	}
}
