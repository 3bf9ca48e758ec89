package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// leafImports are the packages whose imports of the module are fixed,
// with the only ones allowed (docs/design.md §2, inside engine and http):
//
//   - engine/errcode is the error registry every package uses: it imports
//     no package of the module.
//   - engine/names and engine/manifest are the grammar of references and
//     manifests: they import only errcode, to give their errors a kind
//     where they arise.
//   - http/distapi is one surface, beside the others: it imports no other
//     http package but http/reqctx, which owns each request's context and
//     streamed body (docs/design.md §9) that the handlers pass to the
//     engine.
var leafImports = map[string][]string{
	"engine/errcode":  nil,
	"engine/names":    {"engine/errcode"},
	"engine/manifest": {"engine/errcode"},
	"http/distapi":    {"engine", "engine/errcode", "engine/manifest", "engine/names", "engine/policy", "http/reqctx"},
}

// TestLeafImports keeps the leaves of leafImports leaves, and
// http/distapi off the other surfaces: its list of engine imports may
// grow, its http imports may not.
func TestLeafImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/engine/...", module+"/http/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		allowed, ok := leafImports[rel]
		if !ok {
			continue
		}
		seen++
		for _, imp := range p.Imports {
			own, isOwn := strings.CutPrefix(imp, module+"/")
			switch {
			case !isOwn:
			case rel == "http/distapi" && strings.HasPrefix(own, "engine"):
			case !slices.Contains(allowed, own):
				t.Errorf("%s imports %s: it may import only %v of the module", rel, own, allowed)
			}
		}
	}
	if seen != len(leafImports) {
		t.Fatalf("go list showed %d of the %d leaf packages", seen, len(leafImports))
	}
}

// httpClients are the engine packages that may import net/http, each
// because it is a client of a service that speaks HTTP; the S3 store's
// client is the SDK's, which engine code does not import itself.
var httpClients = map[string]string{
	"engine/identity/mcias": "the client of the MCIAS login and token validation endpoints",
}

// serverNames are the net/http names of server code: a handler, a
// server, a mux, a response writer. The engine is transport-free (docs/design.md §2).
var serverNames = []string{
	"Server", "Handler", "HandlerFunc", "ServeMux", "NewServeMux", "ResponseWriter", "ListenAndServe",
	"ListenAndServeTLS", "Serve", "ServeTLS", "Handle", "HandleFunc", "ServeContent", "ServeFile", "FileServer",
}

// TestEngineHasNoHTTPServer: no engine package imports net/http except
// the clients of httpClients, and those use no server name of net/http.
func TestEngineHasNoHTTPServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}} {{join .Imports \" \"}}", module+"/engine/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	clients := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		rel, dir := strings.TrimPrefix(f[0], module+"/"), f[1]
		if !slices.Contains(f[2:], "net/http") {
			continue
		}
		if _, ok := httpClients[rel]; !ok {
			t.Errorf("%s imports net/http: the engine is transport-free (only the clients in httpClients may)", rel)
			continue
		}
		clients++
		for _, use := range serverUses(t, dir) {
			t.Errorf("%s: %s is server code of net/http", rel, use)
		}
	}
	if clients != len(httpClients) {
		t.Errorf("%d of the %d clients in httpClients import net/http: drop the ones that no longer do", clients, len(httpClients))
	}
}

// serverUses lists the server names of net/http the non-test files of
// dir use, as file:line name.
func serverUses(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var uses []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		local := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"net/http"` {
				local = "http"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && slices.Contains(serverNames, sel.Sel.Name) {
				uses = append(uses, fset.Position(sel.Pos()).String()+" "+sel.Sel.Name)
			}
			return true
		})
	}
	return uses
}
