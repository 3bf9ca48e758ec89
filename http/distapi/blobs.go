package distapi

import (
	"io"
	"os"
	"strconv"

	"github.com/opencontainers/go-digest"
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// bodyLength is the declared body size, or -1 when chunked or absent.
func bodyLength(ctx *fasthttp.RequestCtx) int64 {
	if n := ctx.Request.Header.ContentLength(); n >= 0 {
		return int64(n)
	}
	return -1
}

func (a *API) getBlob(ctx *fasthttp.RequestCtx, rt route) error {
	d, err := names.Digest(rt.arg)
	if err != nil {
		return err
	}
	h := &ctx.Response.Header
	if ctx.IsHead() {
		size, err := a.reg.StatBlob(reqctx.Context(ctx), rt.repo, d)
		if err != nil {
			return err
		}
		setBlobHeaders(h, d)
		h.SetContentLength(int(size))
		return nil
	}
	// A store that can send the client to the bytes itself (S3 with
	// storage.s3.redirect) gets a 307 to a short-lived URL; the store
	// honours the client's Range there.
	url, err := a.reg.BlobURL(reqctx.Context(ctx), rt.repo, d)
	if err != nil {
		return err
	}
	if url != "" {
		setBlobHeaders(h, d)
		h.Set(fasthttp.HeaderLocation, url)
		ctx.SetStatusCode(fasthttp.StatusTemporaryRedirect)
		return nil
	}
	f, size, err := a.reg.OpenBlob(reqctx.Context(ctx), rt.repo, d)
	if err != nil {
		return err
	}
	setBlobHeaders(h, d)
	start, end, status := parseRange(ctx.Request.Header.Peek(fasthttp.HeaderRange), size)
	switch status {
	case fasthttp.StatusRequestedRangeNotSatisfiable:
		_ = f.Close()
		h.Set(fasthttp.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
		ctx.SetStatusCode(status)
		return nil
	case fasthttp.StatusPartialContent:
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			_ = f.Close()
			return err
		}
		h.Set(fasthttp.HeaderContentRange, "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
		ctx.SetStatusCode(status)
		// fasthttp reads exactly the declared size of a file and then
		// closes it; any other stream (a GET from S3 runs to the
		// object's end) is cut at the range's end here, since fasthttp
		// refuses a stream longer than its declared length.
		n := end - start + 1
		var body io.Reader = f
		if _, ok := f.(*os.File); !ok {
			body = bounded{io.LimitReader(f, n), f}
		}
		ctx.SetBodyStream(body, int(n))
		return nil
	}
	ctx.SetBodyStream(f, int(size))
	return nil
}

func setBlobHeaders(h *fasthttp.ResponseHeader, d digest.Digest) {
	h.SetContentType("application/octet-stream")
	setDigestHeaders(h, d)
	h.Set(fasthttp.HeaderAcceptRanges, "bytes")
}

// The names of the headers that carry a served object's digest, in the
// form fasthttp writes (Set would normalize them on every request).
var (
	headerDigest = []byte("Docker-Content-Digest")
	headerETag   = []byte("Etag")
)

// setDigestHeaders names d as the served object's digest and entity tag.
func setDigestHeaders(h *fasthttp.ResponseHeader, d digest.Digest) {
	h.SetCanonical(headerDigest, []byte(d))
	var buf [2 + 7 + 128]byte // "sha512:<128 hex>"
	h.SetCanonical(headerETag, append(append(append(buf[:0], '"'), d...), '"'))
}

func (a *API) deleteBlob(ctx *fasthttp.RequestCtx, rt route) error {
	d, err := names.Digest(rt.arg)
	if err != nil {
		return err
	}
	if err := a.reg.DeleteBlob(reqctx.Context(ctx), rt.repo, d); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	return nil
}

// startUpload handles POST /v2/<name>/blobs/uploads/: a mount, a whole
// blob in one request (?digest=), or the start of a session.
func (a *API) startUpload(ctx *fasthttp.RequestCtx, rt route) error {
	args := ctx.QueryArgs()
	if args.Has("mount") {
		d, err := names.Digest(string(args.Peek("mount")))
		if err != nil {
			return err
		}
		from := string(args.Peek("from"))
		if from != "" {
			if err := names.Repo(from); err != nil {
				return err
			}
		}
		// The route declared push on the target; the source must be one
		// the caller may pull (canPull also limits an automatic mount's
		// candidates). A source they may not pull falls back to an upload
		// session, which says nothing about what the source holds.
		ok, err := a.reg.MountBlob(reqctx.Context(ctx), rt.repo, from, d, a.canPull(ctx))
		if err != nil {
			return err
		}
		if ok {
			blobCreated(ctx, rt.repo, d)
			return nil
		}
		// Not mountable: fall back to a session (spec: "Mounting a blob
		// from another repository").
	}
	if args.Has("digest") {
		d, err := names.Digest(string(args.Peek("digest")))
		if err != nil {
			return err
		}
		if err := a.reg.PutBlob(reqctx.Context(ctx), rt.repo, d, reqctx.Body(ctx), bodyLength(ctx)); err != nil {
			return err
		}
		blobCreated(ctx, rt.repo, d)
		return nil
	}
	up, err := a.reg.StartUpload(reqctx.Context(ctx), rt.repo)
	if err != nil {
		return err
	}
	uploadAccepted(ctx, rt.repo, up, fasthttp.StatusAccepted)
	return nil
}

func blobCreated(ctx *fasthttp.RequestCtx, repo string, d digest.Digest) {
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/blobs/"+d.String())
	ctx.Response.Header.Set("Docker-Content-Digest", d.String())
	ctx.SetStatusCode(fasthttp.StatusCreated)
}

// uploadAccepted writes the headers that tell a client where a session is
// and how much of it the registry holds.
func uploadAccepted(ctx *fasthttp.RequestCtx, repo string, up engine.Upload, status int) {
	h := &ctx.Response.Header
	h.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/blobs/uploads/"+up.ID)
	h.Set("Docker-Upload-UUID", up.ID)
	h.Set(fasthttp.HeaderRange, uploadRange(up.Offset))
	ctx.SetStatusCode(status)
}

// uploadRange is the Range header of a session holding n bytes: the
// inclusive range "0-<last byte>", and "0-0" for an empty session, as
// clients parse it.
func uploadRange(n int64) string {
	if n > 0 {
		n--
	}
	return "0-" + strconv.FormatInt(n, 10)
}

func (a *API) uploadStatus(ctx *fasthttp.RequestCtx, rt route) error {
	up, err := a.reg.UploadStatus(reqctx.Context(ctx), rt.repo, rt.arg)
	if err != nil {
		return err
	}
	uploadAccepted(ctx, rt.repo, up, fasthttp.StatusNoContent)
	return nil
}

func (a *API) patchUpload(ctx *fasthttp.RequestCtx, rt route) error {
	start, length, err := chunkRange(ctx)
	if err != nil {
		return err
	}
	up, err := a.reg.AppendUpload(reqctx.Context(ctx), rt.repo, rt.arg, start, reqctx.Body(ctx), length)
	if errcode.KindOf(err) == errcode.RangeInvalid {
		// A client recovers from an out-of-order chunk with the session's
		// location and current range (spec: 416 on PATCH).
		uploadAccepted(ctx, rt.repo, up, fasthttp.StatusRequestedRangeNotSatisfiable)
	}
	if err != nil {
		return err
	}
	uploadAccepted(ctx, rt.repo, up, fasthttp.StatusAccepted)
	return nil
}

// chunkRange reads Content-Range ("<start>-<end>") and checks it against
// Content-Length. Without Content-Range the PATCH is a streamed chunk:
// start -1.
func chunkRange(ctx *fasthttp.RequestCtx) (start, length int64, err error) {
	length = bodyLength(ctx)
	cr := ctx.Request.Header.Peek(fasthttp.HeaderContentRange)
	if len(cr) == 0 {
		return -1, length, nil
	}
	first, last, ok := parseContentRange(cr)
	if !ok {
		return 0, 0, errcode.New(errcode.RangeInvalid, "malformed Content-Range %q", cr)
	}
	if n := last - first + 1; length >= 0 && n != length {
		return 0, 0, errcode.New(errcode.RangeInvalid, "Content-Range covers %d bytes, Content-Length says %d", n, length)
	}
	return first, last - first + 1, nil
}

func (a *API) putUpload(ctx *fasthttp.RequestCtx, rt route) error {
	d, err := names.Digest(string(ctx.QueryArgs().Peek("digest")))
	if err != nil {
		return err
	}
	start, length, err := chunkRange(ctx)
	if err != nil {
		return err
	}
	if err := a.reg.FinishUpload(reqctx.Context(ctx), rt.repo, rt.arg, d, start, reqctx.Body(ctx), length); err != nil {
		return err
	}
	blobCreated(ctx, rt.repo, d)
	return nil
}

func (a *API) cancelUpload(ctx *fasthttp.RequestCtx, rt route) error {
	if err := a.reg.CancelUpload(reqctx.Context(ctx), rt.repo, rt.arg); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// bounded is a blob stream cut at the end of a range.
type bounded struct {
	io.Reader
	io.Closer
}
