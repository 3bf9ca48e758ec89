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
	for _, p := range ours {
		var files []*ast.File
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, af)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}}
		if _, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		for _, f := range files {
			for _, pos := range requestCtxAsContext(f, info) {
				t.Errorf("%s: *fasthttp.RequestCtx used as a context.Context; pass reqctx.Context(ctx)", fset.Position(pos))
			}
		}
	}
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

// requestCtxAsContext finds where a *fasthttp.RequestCtx becomes a
// context.Context: call arguments, assignments and returns.
func requestCtxAsContext(f *ast.File, info *types.Info) []token.Pos {
	var bad []token.Pos
	check := func(want types.Type, e ast.Expr) {
		if want != nil && isContext(want) && isRequestCtx(info.Types[e].Type) {
			bad = append(bad, e.Pos())
		}
	}
	// results holds the result types of the functions being walked.
	var results []*types.Tuple
	var walk func(n ast.Node) bool
	walk = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Body != nil {
				results = append(results, info.Defs[n.Name].Type().(*types.Signature).Results())
				ast.Inspect(n.Body, walk)
				results = results[:len(results)-1]
			}
			return false
		case *ast.FuncLit:
			results = append(results, info.Types[n].Type.(*types.Signature).Results())
			ast.Inspect(n.Body, walk)
			results = results[:len(results)-1]
			return false
		case *ast.ReturnStmt:
			if len(results) > 0 && results[len(results)-1].Len() == len(n.Results) {
				for i, r := range n.Results {
					check(results[len(results)-1].At(i).Type(), r)
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) == len(n.Rhs) {
				for i := range n.Lhs {
					check(info.Types[n.Lhs[i]].Type, n.Rhs[i])
				}
			}
		case *ast.ValueSpec:
			if n.Type != nil {
				for _, v := range n.Values {
					check(info.Types[n.Type].Type, v)
				}
			}
		case *ast.CallExpr:
			checkCall(n, info, check)
		}
		return true
	}
	ast.Inspect(f, walk)
	return bad
}

// checkCall checks each argument of call against its parameter.
func checkCall(call *ast.CallExpr, info *types.Info, check func(types.Type, ast.Expr)) {
	sig, ok := info.Types[call.Fun].Type.(*types.Signature)
	if !ok {
		return
	}
	for i, arg := range call.Args {
		var pt types.Type
		switch {
		case sig.Variadic() && i >= sig.Params().Len()-1:
			s, ok := sig.Params().At(sig.Params().Len() - 1).Type().(*types.Slice)
			if !ok {
				continue // append(bytes, text...): a string, no context
			}
			pt = s.Elem()
		case i < sig.Params().Len():
			pt = sig.Params().At(i).Type()
		default:
			continue
		}
		check(pt, arg)
	}
}
