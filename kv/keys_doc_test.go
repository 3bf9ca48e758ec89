package kv

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestKeyspaceDiagramMatchesDocs keeps the keyspace drawn in
// docs/architecture.md equal to the authoritative diagram in keys.go: the
// same key patterns in the same order. A new namespace added to one and not
// the other fails here.
func TestKeyspaceDiagramMatchesDocs(t *testing.T) {
	code := codeDiagram(t, "keys.go")
	doc := docDiagram(t, "../docs/architecture.md")
	if len(code) < 10 {
		t.Fatalf("keys.go diagram has %d keys; the parser lost it", len(code))
	}
	if !slices.Equal(code, doc) {
		t.Fatalf("keyspace differs:\nkeys.go:         %v\narchitecture.md: %v", code, doc)
	}
}

// codeDiagram reads the key patterns of keys.go's diagram: the comment
// lines "//\t<key>   → <value>" after "// The keyspace.".
func codeDiagram(t *testing.T, path string) []string {
	t.Helper()
	var keys []string
	in := false
	for _, line := range readLines(t, path) {
		switch {
		case strings.HasPrefix(line, "// The keyspace."):
			in = true
		case in && !strings.HasPrefix(line, "//"):
			return keys
		case in && strings.HasPrefix(line, "//\t"):
			if f := strings.Fields(strings.TrimPrefix(line, "//\t")); len(f) > 1 && f[1] == "→" {
				keys = append(keys, f[0])
			}
		}
	}
	return keys
}

// docDiagram reads the first column of the fenced block under the
// "## Keyspace" heading.
func docDiagram(t *testing.T, path string) []string {
	t.Helper()
	var keys []string
	section, fence := false, false
	for _, line := range readLines(t, path) {
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Keyspace"
		case section && strings.HasPrefix(line, "```"):
			if fence {
				return keys
			}
			fence = true
		case section && fence:
			if f := strings.Fields(line); len(f) > 0 {
				keys = append(keys, f[0])
			}
		}
	}
	t.Fatalf("%s: no fenced block under ## Keyspace", path)
	return nil
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
