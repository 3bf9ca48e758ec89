package distapi

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
)

// parseRange interprets a request's Range header against a blob of size
// bytes (RFC 9110 §14.2). A single byte range is served as 206. A header
// that is absent, in another unit, or asks for several ranges is ignored
// and the whole blob served (200), which the RFC allows. A byte range that
// is invalid (e.g. last < first) or starts past the end is 416, as RFC
// 9110 §15.5.17 recommends.
func parseRange(h []byte, size int64) (start, end int64, status int) {
	const unsatisfiable = fasthttp.StatusRequestedRangeNotSatisfiable
	spec, ok := bytes.CutPrefix(bytes.TrimSpace(h), []byte("bytes="))
	if !ok || bytes.IndexByte(spec, ',') >= 0 {
		return 0, size - 1, fasthttp.StatusOK
	}
	first, last, ok := bytes.Cut(spec, []byte("-"))
	if !ok {
		return 0, 0, unsatisfiable
	}
	first, last = bytes.TrimSpace(first), bytes.TrimSpace(last)
	if len(first) == 0 { // suffix range: the last n bytes
		n, err := strconv.ParseInt(string(last), 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, unsatisfiable
		}
		return max(size-n, 0), size - 1, fasthttp.StatusPartialContent
	}
	start, err := strconv.ParseInt(string(first), 10, 64)
	if err != nil || start < 0 {
		return 0, 0, unsatisfiable
	}
	end = size - 1
	if len(last) > 0 {
		if end, err = strconv.ParseInt(string(last), 10, 64); err != nil || end < start {
			return 0, 0, unsatisfiable
		}
		end = min(end, size-1)
	}
	if start >= size {
		return 0, 0, unsatisfiable
	}
	return start, end, fasthttp.StatusPartialContent
}

// parseContentRange reads the Content-Range of a chunk upload. The
// distribution spec writes it "<start>-<end>"; the RFC form
// "bytes <start>-<end>/<total>" that some clients send is accepted too.
func parseContentRange(h []byte) (first, last int64, ok bool) {
	h = bytes.TrimSpace(h)
	h = bytes.TrimPrefix(h, []byte("bytes"))
	h = bytes.TrimLeft(h, " =")
	if i := bytes.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	a, b, found := bytes.Cut(h, []byte("-"))
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(string(a), 10, 64)
	last, err2 := strconv.ParseInt(string(b), 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false
	}
	return first, last, true
}
