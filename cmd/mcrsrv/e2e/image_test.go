package e2e

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The OCI annotations `make image` sets on the index and on each manifest.
var imageAnnotations = []string{
	"org.opencontainers.image.version",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.source",
	"org.opencontainers.image.created",
	"org.opencontainers.image.title",
}

// ociDoc is what the test reads of an index, a manifest and a config.
type ociDoc struct {
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations"`
	Manifests   []struct {
		Digest   string `json:"digest"`
		Platform struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platform"`
	} `json:"manifests"`
	Config struct {
		Size int64 `json:"size"`
	} `json:"config"`
	Layers []struct {
		Size int64 `json:"size"`
	} `json:"layers"`
}

type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Volumes      map[string]struct{} `json:"Volumes"`
		StopSignal   string              `json:"StopSignal"`
	} `json:"config"`
}

// TestImage pushes the image `make image` built (MCR_IMAGE, an OCI
// layout) into a running mcr with crane and inspects it there: two
// platforms, the run configuration, the annotations, the data directory's
// owner and mode in the layer, and binaries that are static executables
// of the right architecture.
func TestImage(t *testing.T) {
	requireE2E(t)
	layoutDir := os.Getenv(envImage)
	if layoutDir == "" {
		t.Fatalf("%s is unset: run `make image` and set %s=bin/image (`make test` does both)", envImage, envImage)
	}
	if _, err := os.Stat(filepath.Join(layoutDir, "index.json")); err != nil {
		t.Fatalf("%s=%s is not an OCI layout: %v (run `make image`)", envImage, layoutDir, err)
	}
	crane := tool(t, "crane")
	reg := startRegistry(t)
	dir := workDir(t, "image")
	c := command{t: t, bin: crane, env: isolatedEnv(t, dir), timeout: 5 * time.Minute}
	ref := reg.host + "/e2e/" + runID + "/mcr:test"

	if r := c.run("push", layoutDir, ref, "--insecure"); r.err != nil {
		t.Fatal(r.err)
	}
	var idx ociDoc
	c.runJSON(t, &idx, "manifest", ref, "--insecure")
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %q", idx.MediaType)
	}
	checkAnnotations(t, "index", idx.Annotations)
	var plats []string
	for _, m := range idx.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	slices.Sort(plats)
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("platforms %v; want linux/amd64, linux/arm64", plats)
	}

	for _, plat := range plats {
		arch := strings.TrimPrefix(plat, "linux/")
		var m ociDoc
		c.runJSON(t, &m, "manifest", "--platform", plat, ref, "--insecure")
		checkAnnotations(t, plat+" manifest", m.Annotations)
		size := m.Config.Size
		for _, l := range m.Layers {
			size += l.Size
		}
		t.Logf("%s: %d layer(s), %.1f MiB compressed", plat, len(m.Layers), float64(size)/(1<<20))

		var cf imageConfig
		c.runJSON(t, &cf, "config", "--platform", plat, ref, "--insecure")
		checkRunConfig(t, plat, cf, arch)

		tarPath := filepath.Join(dir, arch+".tar")
		if r := c.run("export", "--platform", plat, ref, tarPath, "--insecure"); r.err != nil {
			t.Fatal(r.err)
		}
		checkFilesystem(t, plat, tarPath, filepath.Join(dir, arch), arch)
	}
}

func (c command) runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := c.run(args...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

func checkAnnotations(t *testing.T, what string, a map[string]string) {
	t.Helper()
	for _, k := range imageAnnotations {
		if a[k] == "" {
			t.Errorf("%s: annotation %s missing (%v)", what, k, a)
		}
	}
	if _, err := time.Parse(time.RFC3339, a["org.opencontainers.image.created"]); err != nil {
		t.Errorf("%s: created: %v", what, err)
	}
}

func checkRunConfig(t *testing.T, plat string, cf imageConfig, arch string) {
	t.Helper()
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("%s: config says %s/%s", plat, cf.OS, cf.Architecture)
	}
	if c.User != "65532:65532" {
		t.Errorf("%s: user %q; want 65532:65532", plat, c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/mcrsrv"}) ||
		!slices.Equal(c.Cmd, []string{"serve", "--addr", "0.0.0.0:5000", "--data", "/var/lib/mcr"}) {
		t.Errorf("%s: entrypoint %q cmd %q", plat, c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["5000/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("%s: exposed ports %v", plat, c.ExposedPorts)
	}
	if _, ok := c.Volumes["/var/lib/mcr"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("%s: volumes %v", plat, c.Volumes)
	}
	if c.StopSignal != "SIGTERM" {
		t.Errorf("%s: stop signal %q", plat, c.StopSignal)
	}
}

// checkFilesystem reads the flattened filesystem crane exported: the data
// directory belongs to the image's user with mode 0700, and both binaries
// are static executables for arch (no program interpreter: they run on an
// empty base). On a host of the same architecture mcrsrv also runs.
func checkFilesystem(t *testing.T, plat, tarPath, extract, arch string) {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.MkdirAll(extract, 0o755); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "/")
		switch strings.TrimSuffix(name, "/") {
		case "var/lib/mcr":
			found["data"] = true
			if h.Uid != 65532 || h.Gid != 65532 || h.FileInfo().Mode().Perm() != 0o700 || !h.FileInfo().IsDir() {
				t.Errorf("%s: /var/lib/mcr is %v owned by %d:%d; want a 0700 directory owned by 65532:65532", plat, h.FileInfo().Mode(), h.Uid, h.Gid)
			}
		case "usr/local/bin/mcrsrv", "usr/local/bin/mcrctl":
			bin := filepath.Join(extract, filepath.Base(name))
			found[filepath.Base(name)] = true
			out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			checkStatic(t, plat, bin, arch)
		}
	}
	for _, k := range []string{"data", "mcrsrv", "mcrctl"} {
		if !found[k] {
			t.Errorf("%s: %s missing from the image", plat, k)
		}
	}
	if arch == runtime.GOARCH && found["mcrsrv"] {
		out, err := exec.Command(filepath.Join(extract, "mcrsrv"), "version").CombinedOutput()
		if err != nil {
			t.Errorf("%s: mcrsrv version: %v\n%s", plat, err, out)
		}
	}
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func checkStatic(t *testing.T, plat, bin, arch string) {
	t.Helper()
	ef, err := elf.Open(bin)
	if err != nil {
		t.Errorf("%s: %s: %v", plat, filepath.Base(bin), err)
		return
	}
	defer ef.Close()
	if ef.Machine != elfMachine[arch] {
		t.Errorf("%s: %s is built for %v", plat, filepath.Base(bin), ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: %s is dynamically linked (has a program interpreter)", plat, filepath.Base(bin))
		}
	}
}
