package oci

import (
	"context"
	"encoding/json"
	"fmt"
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
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	next, err := c.getJSON(ctx, ref, &body)
	if err != nil {
		return Page{}, err
	}
	if body.Name != repo {
		return Page{}, fmt.Errorf("GET %s: name %q, want %q", ref, body.Name, repo)
	}
	return Page{Items: body.Tags, Next: next}, nil
}

// Catalog is GET /v2/_catalog with n and last as for Tags.
func (c *Client) Catalog(ctx context.Context, n int, last string) (Page, error) {
	return c.CatalogAt(ctx, "/v2/_catalog"+pageQuery(n, last))
}

// CatalogAt fetches a catalog page at ref, a path and query such as Page.Next.
func (c *Client) CatalogAt(ctx context.Context, ref string) (Page, error) {
	var body struct {
		Repositories []string `json:"repositories"`
	}
	next, err := c.getJSON(ctx, ref, &body)
	if err != nil {
		return Page{}, err
	}
	return Page{Items: body.Repositories, Next: next}, nil
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

func (c *Client) getJSON(ctx context.Context, ref string, v any) (next string, err error) {
	resp, err := c.do(ctx, http.MethodGet, ref, nil, nil, 0, http.StatusOK)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return "", fmt.Errorf("GET %s: decoding body: %w", ref, err)
	}
	next, err = NextLink(resp.Header.Get("Link"))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", ref, err)
	}
	return next, nil
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
