package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// fakePlatforms writes distinct stand-in binaries per platform: the
// builder copies bytes and never runs them.
func fakePlatforms(t *testing.T) []string {
	t.Helper()
	var args []string
	for _, arch := range []string{"amd64", "arm64"} {
		dir := filepath.Join(t.TempDir(), arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range binaryNames {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(name+" for "+arch), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "-platform", "linux/"+arch+"="+dir)
	}
	return args
}

// TestReproducible builds the layout twice from the same inputs and gets
// the same index digest; a different creation time gives another.
func TestReproducible(t *testing.T) {
	plats := fakePlatforms(t)
	build := func(created string) string {
		out := filepath.Join(t.TempDir(), "image")
		args := append([]string{"-out", out, "-version", "v1.2.3", "-revision", "abc123", "-source", "https://example.com/mcr", "-created", created}, plats...)
		if err := run(args); err != nil {
			t.Fatal(err)
		}
		p, err := layout.FromPath(out)
		if err != nil {
			t.Fatal(err)
		}
		ii, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := ii.IndexManifest()
		if err != nil || len(im.Manifests) != 1 {
			t.Fatalf("layout index: %v, %+v; want one entry", err, im)
		}
		return im.Manifests[0].Digest.String()
	}
	a, b := build("1700000000"), build("2023-11-14T22:13:20Z")
	if a != b {
		t.Errorf("same inputs, different digests: %s, %s", a, b)
	}
	if c := build("1700000001"); c == a {
		t.Errorf("another creation time gave the same digest %s", c)
	}
}

// TestImageContents checks each platform's image: run configuration,
// annotations, and the layer's entries (owners, modes, fixed mtimes).
func TestImageContents(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	m := Meta{Version: "v1", Revision: "r1", Source: "https://example.com/mcr", Created: created}
	var ps []Platform
	plats := fakePlatforms(t) // -platform, value, -platform, value
	for i := 1; i < len(plats); i += 2 {
		p, err := parsePlatform(plats[i])
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	idx, err := index(ps, m)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations["org.opencontainers.image.revision"] != "r1" || len(im.Manifests) != 2 {
		t.Fatalf("index: %+v", im)
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || cf.OS != "linux" || cf.Config.User != "65532:65532" ||
			cf.Config.StopSignal != "SIGTERM" || cf.Config.Entrypoint[0] != "/usr/local/bin/mcrsrv" {
			t.Errorf("%s config: %+v", d.Platform, cf)
		}
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if mf.Annotations["org.opencontainers.image.version"] != "v1" || mf.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("%s manifest: %+v", d.Platform, mf)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s layers: %d, %v", d.Platform, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]*tar.Header{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(created) {
				t.Errorf("%s: mtime %v", h.Name, h.ModTime)
			}
			body, _ := io.ReadAll(tr)
			if h.Name == "usr/local/bin/mcrsrv" && !strings.HasSuffix(string(body), d.Platform.Architecture) {
				t.Errorf("%s carries %q", d.Platform, body)
			}
			seen[h.Name] = h
		}
		rc.Close()
		if h := seen["var/lib/mcr/"]; h == nil || h.Uid != 65532 || h.Gid != 65532 || h.Mode != 0o700 {
			t.Errorf("%s: data directory %+v", d.Platform, h)
		}
		if h := seen["usr/local/bin/mcrctl"]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
			t.Errorf("%s: mcrctl %+v", d.Platform, h)
		}
	}
}

func TestFlags(t *testing.T) {
	err := run([]string{"-out", t.TempDir()})
	if err == nil || err.Error() != "missing -version, -revision, -source, -created, -platform" {
		t.Errorf("no inputs: %v", err)
	}
	if _, err := parsePlatform("linux-amd64"); err == nil {
		t.Error("a platform without OS/ARCH=DIR was accepted")
	}
}
