package reqctx_test

import (
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoRequestCtxAsContext enforces the rule of the package doc: no
// *fasthttp.RequestCtx is handed on as a context.Context (its Done follows
// the server's shutdown, not the request), anywhere under http/. It
// type-checks every package against the compiler's export data and reports
// each call argument, assignment or return that converts one.
func TestNoRequestCtxAsContext(t *testing.T) {
	out, err := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Dir,GoFiles,Export,Standard",
		"git.wntrmute.dev/kyle/mcr/http/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath, Dir, Export string
		GoFiles                 []string
		Standard                bool
	}
	exports := map[string]string{}
	var ours []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if strings.HasPrefix(p.ImportPath, "git.wntrmute.dev/kyle/mcr/http/") {
			ours = append(ours, p)
		}
	}
	if len(ours) < 5 {
		t.Fatalf("only %d http packages listed", len(ours))
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) { return os.Open(exports[path]) })
	found := 0
	for _, p := range ours {
		var files []*ast.File
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, af)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}}
		if _, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		for _, f := range files {
			for _, pos := range requestCtxAsContext(f, info) {
				t.Errorf("%s: *fasthttp.RequestCtx used as a context.Context; pass reqctx.Context(ctx)", fset.Position(pos))
				found++
			}
		}
	}
	_ = found
}

func isRequestCtx(t types.Type) bool {
	p, ok := t.(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := p.Elem().(*types.Named)
	return ok && n.Obj().Name() == "RequestCtx" && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "github.com/valyala/fasthttp"
}

func isContext(t types.Type) bool {
	n, ok := t.(*types.Named)
	return ok && n.Obj().Name() == "Context" && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context"
}

// requestCtxAsContext finds the call arguments whose parameter is a
// context.Context and whose value is a *fasthttp.RequestCtx.
func requestCtxAsContext(f *ast.File, info *types.Info) []token.Pos {
	var bad []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sig, ok := info.Types[call.Fun].Type.(*types.Signature)
		if !ok {
			return true
		}
		for i, arg := range call.Args {
			var pt types.Type
			switch {
			case sig.Variadic() && i >= sig.Params().Len()-1:
				pt = sig.Params().At(sig.Params().Len() - 1).Type().(*types.Slice).Elem()
			case i < sig.Params().Len():
				pt = sig.Params().At(i).Type()
			default:
				continue
			}
			if isContext(pt) && isRequestCtx(info.Types[arg].Type) {
				bad = append(bad, arg.Pos())
			}
		}
		return true
	})
	return bad
}
