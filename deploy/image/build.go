package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Meta is what the annotations say about the build.
type Meta struct {
	Version  string
	Revision string
	Source   string
	Created  time.Time
	Licenses string // SPDX expression; "" leaves the annotation out
}

// annotations are the OCI pre-defined annotation keys (image-spec
// annotations.md), set on the index and on each image manifest, and as
// labels in each config so that tools showing labels see them too.
func (m Meta) annotations() map[string]string {
	a := map[string]string{
		"org.opencontainers.image.title":       "mcr",
		"org.opencontainers.image.description": "mcr container registry: mcrsrv (server) and mcrctl (admin CLI)",
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Revision,
		"org.opencontainers.image.source":      m.Source,
		"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
	}
	if m.Licenses != "" {
		a["org.opencontainers.image.licenses"] = m.Licenses
	}
	return a
}

// Platform is one image of the index: its platform and the directory
// holding its mcrsrv and mcrctl.
type Platform struct {
	OS, Arch string
	BinDir   string
}

// parsePlatform reads "linux/arm64=DIR".
func parsePlatform(s string) (Platform, error) {
	plat, dir, ok := strings.Cut(s, "=")
	osName, arch, ok2 := strings.Cut(plat, "/")
	if !ok || !ok2 || dir == "" || osName == "" || arch == "" {
		return Platform{}, fmt.Errorf("platform %q: want OS/ARCH=DIR, e.g. linux/amd64=bin/linux-amd64", s)
	}
	return Platform{OS: osName, Arch: arch, BinDir: dir}, nil
}

// runConfig is how the container runs: mcrsrv as the image's user,
// serving on every interface of the container on 5000, data in the volume.
func runConfig(m Meta) v1.Config {
	return v1.Config{
		User:         fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint:   []string{"/" + binDir + "/mcrsrv"},
		Cmd:          []string{"serve", "--addr", "0.0.0.0:5000", "--data", "/" + dataDir},
		Env:          []string{"PATH=/" + binDir},
		WorkingDir:   "/" + dataDir,
		ExposedPorts: map[string]struct{}{"5000/tcp": {}},
		Volumes:      map[string]struct{}{"/" + dataDir: {}},
		// mcrsrv drains on SIGTERM (docs/operations.md, "Stopping").
		StopSignal: "SIGTERM",
		Labels:     m.annotations(),
	}
}

// image builds one platform's image.
func image(p Platform, m Meta) (v1.Image, error) {
	bins, err := readBinaries(p.BinDir)
	if err != nil {
		return nil, err
	}
	tb, err := tarOf(rootfs(bins), m.Created)
	if err != nil {
		return nil, err
	}
	layer, err := layerOf(tb)
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: m.Created},
			CreatedBy: "deploy/image: mcrsrv, mcrctl, /" + dataDir,
			Comment:   "built without a container engine",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Arch
	cf.Created = v1.Time{Time: m.Created}
	cf.Author = m.Source
	cf.Config = runConfig(m)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, m.annotations()).(v1.Image), nil
}

// index builds the multi-platform index of the images.
func index(ps []Platform, m Meta) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range ps {
		img, err := image(p, m)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.OS, p.Arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	return mutate.Annotations(idx, m.annotations()).(v1.ImageIndex), nil
}

// writeLayout writes idx as the only entry of a fresh OCI image layout at
// dir (what `crane push DIR ref` expects: one entry, pushed as it is).
func writeLayout(dir string, idx v1.ImageIndex, m Meta) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": m.Version,
	})); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}
