package oci

import "testing"

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
