package main

import "testing"

func TestGCSummary(t *testing.T) {
	for _, c := range []struct{ report, want string }{
		{`{"blobs":8,"swept":3,"kept":2,"raced":0,"reclaimed_bytes":13002342,"grace":"1h0m0s"}`,
			"swept 3 blobs, 12.4 MiB reclaimed; 5 kept, 2 of them younger than gc.grace 1h"},
		{`{"dry_run":true,"blobs":2,"swept":1,"kept":0,"reclaimed_bytes":10,"grace":"1h30m0s"}`,
			"would sweep 1 blob, 10 B reclaimable; 1 kept"},
		{`{"blobs":4,"swept":0,"kept":1,"raced":1,"reclaimed_bytes":0,"grace":"45s"}`,
			"swept 0 blobs, 0 B reclaimed; 4 kept, 1 of them younger than gc.grace 45s, 1 linked by a push during the run"},
		{`{"blobs":4,"kept":1}`, "swept 0 blobs, 0 B reclaimed; 4 kept, 1 of them younger than gc.grace"},
		{`"done"`, `finished; the result is not a collection report: "done"`},
	} {
		if got := gcSummary([]byte(c.report)); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.report, got, c.want)
		}
	}
}
