package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/actors"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// sentinels is every exported Err* variable of the module, by its
// package's directory and name. TestSentinelsListed keeps the list equal
// to what the source declares, so a new sentinel must be added here, and
// TestSentinelKinds then asks it for a kind.
var sentinels = map[string]error{
	"actors.ErrBusy":                    actors.ErrBusy,
	"actors.ErrStopped":                 actors.ErrStopped,
	"actors.ErrPanic":                   actors.ErrPanic,
	"jobs.ErrBusy":                      jobs.ErrBusy,
	"jobs.ErrClosed":                    jobs.ErrClosed,
	"jobs.ErrRunning":                   jobs.ErrRunning,
	"jobs.ErrUnknownJob":                jobs.ErrUnknownJob,
	"jobs.ErrNotStarted":                jobs.ErrNotStarted,
	"jobs.ErrPanic":                     jobs.ErrPanic,
	"kv.ErrNotFound":                    kv.ErrNotFound,
	"kv.ErrStop":                        kv.ErrStop,
	"kv.ErrClosed":                      kv.ErrClosed,
	"kv.ErrUnavailable":                 kv.ErrUnavailable,
	"kv.ErrConflict":                    kv.ErrConflict,
	"kv.ErrTooLarge":                    kv.ErrTooLarge,
	"kv.ErrNotEmpty":                    kv.ErrNotEmpty,
	"kv.ErrCorrupt":                     kv.ErrCorrupt,
	"kv.ErrFenced":                      kv.ErrFenced,
	"engine/audit.ErrBadCursor":         audit.ErrBadCursor,
	"engine/blobstore.ErrNotFound":      blobstore.ErrNotFound,
	"engine/blobstore.ErrStagingShort":  blobstore.ErrStagingShort,
	"engine/blobstore.ErrUnavailable":   blobstore.ErrUnavailable,
	"engine/gc.ErrRunning":              gc.ErrRunning,
	"engine/identity.ErrInitialized":    identity.ErrInitialized,
	"engine/identity.ErrNoSession":      identity.ErrNoSession,
	"engine/identity.ErrUnknownAccount": identity.ErrUnknownAccount,
	"engine/identity.ErrBadPassword":    identity.ErrBadPassword,
	"engine/identity.ErrDisabled":       identity.ErrDisabled,
	"engine/identity.ErrBadKey":         identity.ErrBadKey,
	"engine/identity.ErrNoPassword":     identity.ErrNoPassword,
	"engine/identity.ErrTokenInvalid":   identity.ErrTokenInvalid,
	"engine/policy.ErrNoStore":          policy.ErrNoStore,
	"engine/snapshot.ErrNotEmpty":       snapshot.ErrNotEmpty,
	"http/reqctx.ErrClientGone":         reqctx.ErrClientGone,
	"http/reqctx.ErrIdle":               reqctx.ErrIdle,
	"http/reqctx.ErrShutdown":           reqctx.ErrShutdown,
}

// internalByNature are the sentinels that are right to answer as an
// internal failure (500), each with the reason. Every other sentinel
// names a kind where it arises (engine/errcode's doc).
var internalByNature = map[string]string{
	"actors.ErrPanic": "a message that panicked is a bug",
	"jobs.ErrPanic":   "a task that panicked is a bug",
	"kv.ErrNotFound":  "the engine turns a missing key into the kind of what is missing (ManifestUnknown, BlobUnknown...); one that escapes is a bug",
	"kv.ErrStop":      "a Scan callback's way to stop early: it never leaves the Scan",
	"kv.ErrCorrupt":   "a stored record that does not decode is damage, not input",
}

// TestSentinelKinds: every exported sentinel answers with a kind other
// than Internal, unless it is internal by nature; no kind a sentinel
// names is 5xx unless it is the server's own failure (Unavailable, a full
// disk), and a client reads the sentinel's own message, never what
// wraps it.
func TestSentinelKinds(t *testing.T) {
	for name, err := range sentinels {
		wrapped := fmt.Errorf("at /srv/mcr/secret: %w", err)
		k, msg, _ := errcode.Public(wrapped)
		_, internal := internalByNature[name]
		switch {
		case internal && k != errcode.Internal:
			t.Errorf("%s answers %s: it is listed as internal by nature", name, k)
		case !internal && k == errcode.Internal:
			t.Errorf("%s answers as an internal failure (500): give it a kind where it is declared", name)
		case strings.Contains(msg, "/srv/mcr/secret"):
			t.Errorf("%s: a client reads %q", name, msg)
		}
	}
}

// TestSentinelsListed keeps sentinels equal to the exported Err*
// variables the module's source declares (bench is a client measuring
// from outside: its errors answer no request).
func TestSentinelsListed(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") && n.IsExported() {
						declared = append(declared, filepath.ToSlash(filepath.Dir(rel))+"."+n.Name)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(declared) < 10 {
		t.Fatalf("found only %d sentinels under %s: the walk is not looking at the module", len(declared), root)
	}
	for _, name := range declared {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("%s is not listed in sentinels", name)
		}
	}
	for name := range sentinels {
		if !slices.Contains(declared, name) {
			t.Errorf("sentinels lists %s, which the source no longer declares", name)
		}
	}
	for name := range internalByNature {
		if _, ok := sentinels[name]; !ok {
			t.Errorf("internalByNature lists %s, which is no sentinel", name)
		}
	}
}
