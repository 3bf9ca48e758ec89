package distapi

import (
	"io"
	"mime"
	"strings"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/manifest"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

func (a *API) getManifest(ctx *fasthttp.RequestCtx, rt route) error {
	ref, err := names.ParseReference(rt.arg)
	if err != nil {
		return err
	}
	m, err := a.reg.GetManifest(reqctx.Context(ctx), rt.repo, ref)
	if err != nil {
		return err
	}
	if !accepts(ctx.Request.Header.PeekAll(fasthttp.HeaderAccept), m.MediaType) {
		return errcode.New(errcode.ManifestUnknown, "manifest is %s, which the Accept header excludes", m.MediaType).
			WithDetail(map[string]string{"mediaType": m.MediaType})
	}
	ctx.SetContentType(m.MediaType)
	setDigestHeaders(&ctx.Response.Header, m.Digest)
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(len(m.Payload))
		return nil
	}
	ctx.SetBody(m.Payload)
	return nil
}

// accepts reports whether the Accept headers (clients send one header
// with a list, or the header repeated) admit a manifest of mediaType. No
// header, a wildcard, or headers that name no manifest type at all (some
// clients send only application/json) admit everything; headers listing
// manifest types that exclude this one do not, so that a client which
// cannot parse an index is not handed one.
func accepts(headers [][]byte, mediaType string) bool {
	namesManifest := false
	for _, h := range headers {
		if acceptHeader(h, mediaType, &namesManifest) {
			return true
		}
	}
	return !namesManifest
}

func acceptHeader(header []byte, mediaType string, namesManifest *bool) bool {
	for part := range strings.SplitSeq(string(header), ",") {
		t, ok := acceptedType(part)
		if !ok {
			continue
		}
		switch {
		case t == mediaType, t == "*/*", t == "application/*":
			return true
		case manifest.Known(t):
			*namesManifest = true
		}
	}
	return false
}

// acceptedType is the media type of one element of an Accept list as
// mime.ParseMediaType reads it (lower case, parameters dropped), and
// whether it parses. The usual element, a bare ASCII type, is read by a
// scan: ParseMediaType allocates a map for the parameters of each, on
// every pull (FuzzAcceptedType keeps the two equal).
func acceptedType(part string) (string, bool) {
	if strings.IndexByte(part, ';') >= 0 || !ascii(part) {
		t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		return t, err == nil
	}
	t := strings.ToLower(strings.TrimSpace(part))
	typ, rest := token(t)
	if typ == "" {
		return "", false
	}
	if rest == "" {
		return t, true
	}
	after, ok := strings.CutPrefix(rest, "/")
	if !ok {
		return "", false
	}
	if sub, rest := token(after); sub == "" || rest != "" {
		return "", false
	}
	return t, true
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// token splits s after its leading RFC 2045 token (printable ASCII but
// for the tspecials).
func token(s string) (tok, rest string) {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

func (a *API) putManifest(ctx *fasthttp.RequestCtx, rt route) error {
	ref, err := names.ParseReference(rt.arg)
	if err != nil {
		return err
	}
	payload, err := readLimited(ctx, manifest.MaxSize)
	if err != nil {
		return err
	}
	var tags []string
	for _, t := range ctx.QueryArgs().PeekMulti("tag") {
		tags = append(tags, string(t))
	}
	res, err := a.reg.PutManifest(reqctx.Context(ctx), rt.repo, ref, string(ctx.Request.Header.ContentType()), payload, tags)
	if err != nil {
		return err
	}
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderLocation, "/v2/"+rt.repo+"/manifests/"+res.Digest.String())
	h.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		h.Set("OCI-Subject", res.Subject.String())
	}
	if ref.IsDigest() && len(res.Tags) > 0 {
		h.Set("OCI-Tag", strings.Join(res.Tags, ","))
	}
	ctx.SetStatusCode(fasthttp.StatusCreated)
	return nil
}

// maxDrain bounds how much of a refused body is read and thrown away so
// that the client, still sending, gets to read the error instead of a
// reset connection. Past it the connection is simply closed.
const maxDrain = 64 << 20

// readLimited reads a request body of at most limit bytes. The server
// streams bodies, so a body over the limit is refused without ever being
// held in memory: the excess is drained (up to maxDrain) and discarded.
func readLimited(ctx *fasthttp.RequestCtx, limit int) ([]byte, error) {
	body := reqctx.Body(ctx)
	tooLarge := func() error {
		_, _ = io.CopyN(io.Discard, body, maxDrain)
		return errcode.New(errcode.TooLarge, "body exceeds the limit of %d bytes", limit)
	}
	if n := ctx.Request.Header.ContentLength(); n > limit {
		return nil, tooLarge()
	}
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		// The manifest as received is cut short (the client went away or
		// stalled): not a blob upload, so not BLOB_UPLOAD_INVALID.
		return nil, errcode.Wrap(errcode.ManifestInvalid, err, "reading the manifest body failed")
	}
	if len(b) > limit {
		return nil, tooLarge()
	}
	return b, nil
}

func (a *API) deleteManifest(ctx *fasthttp.RequestCtx, rt route) error {
	ref, err := names.ParseReference(rt.arg)
	if err != nil {
		return err
	}
	if err := a.reg.DeleteManifest(reqctx.Context(ctx), rt.repo, ref); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	return nil
}
