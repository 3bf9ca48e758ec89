package distapi

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		h          string
		start, end int64
		status     int
	}{
		{"", 0, 99, fasthttp.StatusOK},
		{"bytes=0-9", 0, 9, fasthttp.StatusPartialContent},
		{"bytes=10-", 10, 99, fasthttp.StatusPartialContent},
		{"bytes=90-200", 90, 99, fasthttp.StatusPartialContent},
		{"bytes=-10", 90, 99, fasthttp.StatusPartialContent},
		{"bytes=-500", 0, 99, fasthttp.StatusPartialContent},
		{"bytes=99-99", 99, 99, fasthttp.StatusPartialContent},
		{"bytes=100-", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"bytes=-0", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"bytes=0-1,5-6", 0, 99, fasthttp.StatusOK},
		{"bytes=9-3", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"bytes=500-0", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"items=0-1", 0, 99, fasthttp.StatusOK},
		{"bytes=x-y", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"bytes=-1-2", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
		{"bytes=5", 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable},
	}
	for _, c := range cases {
		s, e, st := parseRange([]byte(c.h), size)
		if st != c.status || (st != fasthttp.StatusRequestedRangeNotSatisfiable && (s != c.start || e != c.end)) {
			t.Errorf("parseRange(%q) = %d-%d %d; want %d-%d %d", c.h, s, e, st, c.start, c.end, c.status)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	cases := []struct {
		h           string
		first, last int64
		ok          bool
	}{
		{"0-9", 0, 9, true},
		{"10-19", 10, 19, true},
		{"bytes 10-19/100", 10, 19, true},
		{"bytes=10-19", 10, 19, true},
		{"9-0", 0, 0, false},
		{"-1-5", 0, 0, false},
		{"abc", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, c := range cases {
		f, l, ok := parseContentRange([]byte(c.h))
		if ok != c.ok || (ok && (f != c.first || l != c.last)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", c.h, f, l, ok)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-1", int64(10))
	f.Add("bytes=-5", int64(3))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			return
		}
		s, e, st := parseRange([]byte(h), size)
		if st == fasthttp.StatusPartialContent && (s < 0 || e >= size || s > e) {
			t.Fatalf("parseRange(%q, %d) = %d-%d outside the blob", h, size, s, e)
		}
	})
}
