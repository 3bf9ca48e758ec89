package errcode

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the kind table of docs/architecture.md")

const (
	architectureDoc = "../../docs/architecture.md"
	tableStart      = "<!-- kinds: generated from engine/errcode/kinds.go by TestKindTableDocumented -update -->\n"
	tableEnd        = "<!-- end of kinds -->\n"
)

// kindTable is the registry as a Markdown table.
func kindTable() string {
	var b strings.Builder
	b.WriteString("| kind | OCI (`/v2`, UI status) | admin REST (`/api/v1`) | gRPC |\n| --- | --- | --- | --- |\n")
	for _, k := range Kinds() {
		d := k.Describe()
		fmt.Fprintf(&b, "| `%s` | %d `%s` | %d `%s` | `%s` |\n", d.Name, d.OCI.Status, d.OCI.Code, d.Admin.Status, d.Admin.Code, d.GRPC)
	}
	return b.String()
}

// TestKindTableDocumented keeps the kind table of docs/architecture.md
// equal to the registry; -update rewrites it.
func TestKindTableDocumented(t *testing.T) {
	raw, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, tableStart), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no kind table between %q and %q", architectureDoc, tableStart, tableEnd)
	}
	want := kindTable()
	if got := doc[i+len(tableStart) : j]; got != want {
		if !*update {
			t.Fatalf("the kind table of %s is stale: run go test ./engine/errcode -run TestKindTableDocumented -update\nwant:\n%s", architectureDoc, want)
		}
		doc = doc[:i+len(tableStart)] + want + doc[j:]
		if err := os.WriteFile(architectureDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
