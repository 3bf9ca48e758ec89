package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "git.wntrmute.dev/kyle/mcr"

// TestImportDirection enforces docs/design.md §2: dependencies point downward
// (cmd → http → engine → {actors, jobs, kv}), actors is stdlib only, kv
// adds only Badger and pgx, jobs only conc, engine never sees fasthttp, nothing but
// cmd imports http, and bench measures from outside.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps,Standard", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		top := strings.SplitN(rel, "/", 2)[0]
		for _, imp := range p.Imports {
			if msg := violation(top, imp); msg != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, msg)
			}
			if msg := clientViolation(p.ImportPath, imp); msg != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, msg)
			}
			if msg := surfaceViolation(p.ImportPath, imp); msg != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, msg)
			}
		}
		for _, dep := range p.Deps {
			if msg := depViolation(top, dep); msg != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, dep, msg)
			}
			if msg := serviceDepViolation(p.ImportPath, dep); msg != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, dep, msg)
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list saw only %d packages; the check is not looking at the module", n)
	}
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

// violation checks one direct import of a package under top.
func violation(top, imp string) string {
	own := strings.HasPrefix(imp, module+"/")
	target := ""
	if own {
		target = strings.SplitN(strings.TrimPrefix(imp, module+"/"), "/", 2)[0]
	}
	switch {
	case own && target == "http" && top != "http" && top != "cmd":
		return "only cmd may import http"
	case own && target == "cmd" && top != "cmd":
		return "nothing outside cmd imports cmd"
	case top == "engine" && own && target != "engine" && target != "kv" && target != "actors" && target != "jobs":
		return "engine may import only kv, actors and jobs"
	case top == "bench" && own && target != "bench" && !serviceStarters[imp]:
		return "bench measures from outside and imports no mcr package but the service starters"
	case (top == "actors" || top == "kv" || top == "jobs") && own && target != top:
		return top + " is a leaf"
	case top == "http" && own && target == "kv":
		return "http reaches kv only through engine"
	}
	return ""
}

// serviceStarters start the external servers the s3 backend of bench
// compare and bench replicas run on (an S3 server, PostgreSQL, HAProxy). They link no registry code:
// TestServiceStartersAreLeaves holds them to that, so bench still only
// measures from outside.
var serviceStarters = map[string]bool{
	module + "/engine/blobstore/s3test/s3server": true,
	module + "/kv/pgtest":                        true,
	module + "/deploy/haproxy":                   true,
}

// starterSpawn is how the starters fork their servers (kv/pgtest/spawn):
// standard library only, the one mcr package they may link.
const starterSpawn = module + "/kv/pgtest/spawn"

func TestServiceStartersAreLeaves(t *testing.T) {
	for pkg := range serviceStarters {
		starterLeaf(t, pkg, starterSpawn)
	}
	starterLeaf(t, starterSpawn, "")
}

// starterLeaf fails t if pkg links an mcr package other than allowed.
func starterLeaf(t *testing.T, pkg, allowed string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{join .Deps \"\\n\"}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(dep, module+"/") && dep != allowed {
			t.Errorf("%s depends on %s: a service starter bench imports links no mcr package", pkg, dep)
		}
	}
}

// clientViolation keeps mcrctl a client of the admin API: it shares the
// wire types (apiv1, standard library only), the build stamp (buildinfo,
// standard library only) and nothing of the server.
func clientViolation(pkg, imp string) string {
	const apiv1 = module + "/http/adminapi/apiv1"
	const buildinfo = module + "/cmd/internal/buildinfo"
	switch {
	case pkg == module+"/cmd/mcrctl" && strings.HasPrefix(imp, module+"/") && imp != apiv1 && imp != buildinfo:
		return "mcrctl talks to the server over HTTP and imports only its wire types (apiv1) and the build stamp"
	case (pkg == apiv1 || pkg == buildinfo) && !isStd(imp):
		return "the wire types and the build stamp are standard library only"
	}
	return ""
}

// surfaceViolation keeps the two admin surfaces side by side over one
// service layer (http/adminsvc): neither calls into the other.
func surfaceViolation(pkg, imp string) string {
	const rest, grpcapi = module + "/http/adminapi", module + "/http/grpcapi"
	switch {
	case strings.HasPrefix(pkg, grpcapi) && imp == rest:
		return "the gRPC API calls the service layer (http/adminsvc), not the REST handlers"
	case strings.HasPrefix(pkg, rest) && strings.HasPrefix(imp, grpcapi):
		return "the REST API calls the service layer (http/adminsvc), not the gRPC API"
	}
	return ""
}

// serviceDepViolation keeps the service layer transport-free.
func serviceDepViolation(pkg, dep string) string {
	if pkg == module+"/http/adminsvc" && (isTransport(dep) || strings.HasPrefix(dep, module+"/http/") && dep != module+"/http/adminapi/apiv1") {
		return "the service layer is transport-free: it takes plain values and returns apiv1 documents"
	}
	return ""
}

func isTransport(dep string) bool {
	return strings.HasPrefix(dep, "github.com/valyala/fasthttp") || strings.HasPrefix(dep, "github.com/fasthttp/") ||
		strings.HasPrefix(dep, "google.golang.org/grpc")
}

// depViolation checks the transitive, third-party dependencies.
func depViolation(top, dep string) string {
	if isStd(dep) || strings.HasPrefix(dep, module) {
		return ""
	}
	switch top {
	case "actors":
		return "actors is stdlib only"
	case "kv":
		if !strings.HasPrefix(dep, "github.com/dgraph-io/") && !allowedBadgerDep(dep) && !strings.HasPrefix(dep, "github.com/jackc/") {
			return "kv may only add Badger and pgx"
		}
	case "jobs":
		if !strings.HasPrefix(dep, "github.com/sourcegraph/conc") {
			return "jobs may only add conc"
		}
	case "engine":
		if isTransport(dep) {
			return "engine is transport-free"
		}
	}
	return ""
}

// allowedBadgerDep lists what Badger itself pulls in.
func allowedBadgerDep(dep string) bool {
	for _, p := range []string{
		"github.com/cespare/xxhash", "github.com/dustin/go-humanize", "github.com/google/flatbuffers",
		"github.com/klauspost/compress", "google.golang.org/protobuf", "go.opentelemetry.io/",
		"github.com/go-logr/", "golang.org/x/", "github.com/pkg/errors", "github.com/golang/",
	} {
		if strings.HasPrefix(dep, p) {
			return true
		}
	}
	return false
}
