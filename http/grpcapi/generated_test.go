package grpcapi_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestGeneratedCodeFresh regenerates mcrv1 with the pinned tools into a
// temporary directory and fails when the committed code differs: run
// make proto after changing the definitions. It needs the tools of make
// tools (MCR_TOOLS_BIN, set by make test).
func TestGeneratedCodeFresh(t *testing.T) {
	bin := os.Getenv("MCR_TOOLS_BIN")
	if bin == "" {
		t.Skip("MCR_TOOLS_BIN is not set (make test sets it)")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "buf"), "generate", "http/grpcapi/proto",
		"--template", "http/grpcapi/proto/buf.gen.yaml", "-o", out)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	gen := filepath.Join(out, "http", "grpcapi", "mcrv1")
	committed := filepath.Join(root, "http", "grpcapi", "mcrv1")
	want, err := filepath.Glob(filepath.Join(gen, "*.go"))
	if err != nil || len(want) == 0 {
		t.Fatalf("buf generated nothing in %s (%v)", gen, err)
	}
	have, _ := filepath.Glob(filepath.Join(committed, "*.go"))
	if len(have) != len(want) {
		t.Errorf("committed %d generated files, regeneration makes %d: run make proto", len(have), len(want))
	}
	for _, g := range want {
		name := filepath.Base(g)
		a, _ := os.ReadFile(g)
		b, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is stale: run make proto", strings.TrimPrefix(filepath.Join(committed, name), root+"/"))
		}
	}
}
