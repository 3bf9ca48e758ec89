package oci

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{`</v2/_catalog?last=b&n=2>; rel="next"`, "/v2/_catalog?last=b&n=2"},
		{`</v2/r/tags/list?n=100&last=t1>;rel=next`, "/v2/r/tags/list?n=100&last=t1"},
		{`<http://x/a>; rel="prev", </b>; rel="next"`, "/b"},
	} {
		got, err := NextLink(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NextLink(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := NextLink("garbage"); err == nil {
		t.Error("NextLink accepted a malformed header")
	}
}

// TestDecodeList: the fast path and encoding/json agree on every body, and
// the fast path takes the usual shape.
func TestDecodeList(t *testing.T) {
	bodies := []string{
		`{"name":"a/b","tags":["t1","t2"]}`,
		` { "tags" : [ "x" , "y" ] , "name" : "r" } `,
		`{"name":"r","tags":[]}`,
		`{"name":"r","tags":null}`,
		`{"name":"r"}`,
		`{}`,
		`{"repositories":["a","b/c"]}`,
		`{"name":"r","tags":["a\"b","c"]}`,
		`{"name":"r","tags":["\u0041"]}`,
		`{"name":"r","tags":["é"]}`,
		`{"name":"r","other":1,"tags":["a"]}`,
		`{"name":"r","tags":["a"],"tags":["b"]}`,
		`{"name":null,"tags":["a"]}`,
		`{"name":"r","tags":["a",]}`,
		`{"name":"r","tags":["a"]} x`,
		`{"name":"r","tags":["a"]`,
		`{"name":"r","tags":[1]}`,
		`[]`,
		``,
	}
	for _, b := range bodies {
		for _, key := range []string{"tags", "repositories"} {
			name, items, err := DecodeList([]byte(b), key)
			var v map[string]json.RawMessage
			var wantName string
			var wantItems []string
			werr := json.Unmarshal([]byte(b), &v)
			if werr == nil {
				if raw, ok := v["name"]; ok {
					werr = json.Unmarshal(raw, &wantName)
				}
			}
			if werr == nil {
				if raw, ok := v[key]; ok {
					werr = json.Unmarshal(raw, &wantItems)
				}
			}
			if err != nil && werr != nil {
				continue // both refuse it
			}
			if (err != nil) != (werr != nil) || name != wantName || !slices.Equal(items, wantItems) || (items == nil) != (wantItems == nil) {
				t.Errorf("%s [%s]: got %q %q %v, want %q %q %v", b, key, name, items, err, wantName, wantItems, werr)
			}
		}
	}
	if _, _, ok := scanList([]byte(`{"name":"a/b","tags":["t1","t2"]}`), "tags"); !ok {
		t.Error("the usual shape missed the fast path")
	}
}

func BenchmarkDecodeList(b *testing.B) {
	tags := make([]string, 10000)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%06d", i)
	}
	body, _ := json.Marshal(map[string]any{"name": "bench/tags", "tags": tags})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, items, err := DecodeList(body, "tags"); err != nil || len(items) != len(tags) {
			b.Fatal(len(items), err)
		}
	}
}
