package main

import (
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestSubcommandsDocumented keeps the package comment of main.go, which
// is what `go doc` shows of mcrsrv, naming every subcommand.
func TestSubcommandsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	cmds := app().Commands
	if len(cmds) < 5 {
		t.Fatalf("only %d subcommands", len(cmds))
	}
	for _, c := range cmds {
		if !slices.Contains(strings.FieldsFunc(doc, notWordRune), c.Name) {
			t.Errorf("main.go's package comment does not name the %s subcommand", c.Name)
		}
	}
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
