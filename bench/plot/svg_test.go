package plot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestSVGIsWellFormed(t *testing.T) {
	var b strings.Builder
	err := SVG(&b, "t <&>", []Panel{
		{Title: "a", XLabel: "c", YLabel: "req/s", Series: []Series{
			{Name: "mcr", Color: "#d62728", Points: []Point{{1, 10}, {4, 35}, {64, 12000}}},
			{Name: "ref", Color: "#1f77b4", Points: []Point{{1, 5}, {64, 4000}}},
		}},
		{Title: "empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
	}
	if !strings.Contains(b.String(), "<polyline") {
		t.Fatal("no lines drawn")
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ v, top, step float64 }{{0, 1, 0.25}, {7, 8, 2}, {4123, 5000, 1000}, {100, 100, 20}} {
		if top, step := niceScale(tc.v); top != tc.top || step != tc.step {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.v, top, step, tc.top, tc.step)
		}
	}
}
