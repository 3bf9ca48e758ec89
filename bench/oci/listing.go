package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Page is one answer of a listing endpoint.
type Page struct {
	Items []string
	// Next is the Link rel="next" target (path and query), "" on the last page.
	Next string
}

// Tags is GET /v2/<repo>/tags/list with n (omitted when n < 0) and last
// (omitted when empty).
func (c *Client) Tags(ctx context.Context, repo string, n int, last string) (Page, error) {
	return c.TagsAt(ctx, "/v2/"+repo+"/tags/list"+pageQuery(n, last), repo)
}

// TagsAt fetches a tag page at ref, a path and query such as Page.Next.
func (c *Client) TagsAt(ctx context.Context, ref, repo string) (Page, error) {
	name, tags, next, err := c.getList(ctx, ref, "tags")
	if err != nil {
		return Page{}, err
	}
	if name != repo {
		return Page{}, fmt.Errorf("GET %s: name %q, want %q", ref, name, repo)
	}
	return Page{Items: tags, Next: next}, nil
}

// Catalog is GET /v2/_catalog with n (omitted when n < 0) and last
// (omitted when empty).
func (c *Client) Catalog(ctx context.Context, n int, last string) (Page, error) {
	return c.CatalogAt(ctx, "/v2/_catalog"+pageQuery(n, last))
}

// CatalogAt fetches a catalog page at ref, a path and query such as Page.Next.
func (c *Client) CatalogAt(ctx context.Context, ref string) (Page, error) {
	_, repos, next, err := c.getList(ctx, ref, "repositories")
	if err != nil {
		return Page{}, err
	}
	return Page{Items: repos, Next: next}, nil
}

func pageQuery(n int, last string) string {
	q := url.Values{}
	if n >= 0 {
		q.Set("n", strconv.Itoa(n))
	}
	if last != "" {
		q.Set("last", last)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// getList GETs a listing at ref and returns its "name" (if any), the
// strings under key, and the Link rel="next" target.
func (c *Client) getList(ctx context.Context, ref, key string) (name string, items []string, next string, err error) {
	resp, err := c.do(ctx, http.MethodGet, ref, nil, nil, 0, http.StatusOK)
	if err != nil {
		return "", nil, "", err
	}
	defer drain(resp)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, "", fmt.Errorf("GET %s: reading body: %w", ref, err)
	}
	if name, items, err = DecodeList(body, key); err != nil {
		return "", nil, "", fmt.Errorf("GET %s: decoding body: %w", ref, err)
	}
	next, err = NextLink(resp.Header.Get("Link"))
	if err != nil {
		return "", nil, "", fmt.Errorf("GET %s: %w", ref, err)
	}
	return name, items, next, nil
}

// DecodeList decodes a listing body, {"name":"…","<key>":["…",…]}: the
// name (empty when absent) and the strings under key. A listing of
// 100 000 tags is over a megabyte, and encoding/json spends about 0.25 µs
// a tag on it, which at mcr's latencies would be most of what the
// harness measures; so the common shape (strings without escapes) is
// scanned directly, into substrings of one copy of the body, and
// anything else (escapes, other keys, odd values) goes through
// encoding/json. Both paths give the same result on every valid body;
// listing_test.go checks it.
func DecodeList(body []byte, key string) (name string, items []string, err error) {
	if name, items, ok := scanList(body, key); ok {
		return name, items, nil
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(body, &v); err != nil {
		return "", nil, err
	}
	if raw, ok := v["name"]; ok {
		if err := json.Unmarshal(raw, &name); err != nil {
			return "", nil, fmt.Errorf("name: %w", err)
		}
	}
	if raw, ok := v[key]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return name, items, nil
}

// scanList is DecodeList's fast path; ok is false for any body it does not
// fully understand.
func scanList(body []byte, key string) (name string, items []string, ok bool) {
	s := string(body)
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	// str reads a string of printable ASCII without escapes.
	str := func() (string, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		start := i + 1
		for j := start; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				i = j + 1
				return s[start:j], true
			case c == '\\' || c < 0x20 || c >= 0x80:
				return "", false
			}
		}
		return "", false
	}
	expect := func(c byte) bool {
		ws()
		if i < len(s) && s[i] == c {
			i++
			return true
		}
		return false
	}
	if !expect('{') {
		return "", nil, false
	}
	seenName, seenKey := false, false
	if expect('}') {
		ws()
		return "", nil, i == len(s)
	}
	for {
		ws()
		k, ok := str()
		if !ok || !expect(':') {
			return "", nil, false
		}
		ws()
		switch {
		case k == "name" && !seenName:
			if name, ok = str(); !ok {
				return "", nil, false
			}
			seenName = true
		case k == key && !seenKey:
			seenKey = true
			if strings.HasPrefix(s[i:], "null") {
				i += 4
				break
			}
			if !expect('[') {
				return "", nil, false
			}
			items = []string{}
			if !expect(']') {
				for {
					ws()
					item, ok := str()
					if !ok {
						return "", nil, false
					}
					items = append(items, item)
					if expect(']') {
						break
					}
					if !expect(',') {
						return "", nil, false
					}
				}
			}
		default:
			return "", nil, false
		}
		if expect('}') {
			ws()
			return name, items, i == len(s)
		}
		if !expect(',') {
			return "", nil, false
		}
	}
}

// NextLink extracts the target of a Link header's rel="next" entry
// (RFC 8288, as the distribution spec uses it); "" when there is none.
func NextLink(h string) (string, error) {
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		target, params, ok := strings.Cut(part, ";")
		target = strings.TrimSpace(target)
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			return "", fmt.Errorf("malformed Link header %q", h)
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
				return target[1 : len(target)-1], nil
			}
		}
	}
	return "", nil
}
