package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// Null is the ceiling the comparison measures against: a trivial
// registry answering the same bytes and headers as a real one, from
// memory, checking nothing and writing nothing to disk. What the load
// generator reaches against it is what this machine can show of any
// registry; a registry's rate over Null's says how close it comes.
const Null Kind = "null"

// NullCommand is the harness's sub-command that runs the null registry
// (Start runs the harness's own executable with it, so that the null
// registry's CPU is its own process's, like a real registry's).
const NullCommand = "null-registry"

// NullScenarios are the scenarios the null registry serves: blob and
// manifest pushes and pulls, and mounts; no listings, no GC.
var NullScenarios = []string{"push-large", "pull-large", "push-image", "pull-manifest", "pull-blob-small", "mount"}

// nullLargeKept is how many large blobs the null registry keeps: the
// harness pulls only the ones it pushed last, and a full run pushes
// gigabytes.
const (
	nullLarge     = 64 << 20
	nullLargeKept = 4
)

// nullRegistry is the null registry's state.
type nullRegistry struct {
	mu        sync.RWMutex
	blobs     map[string][]byte // digest → bytes
	manifests map[string][]byte // digest → bytes
	tags      map[string]string // repo:tag → digest
	uploads   map[string][]byte // id → bytes so far
	large     []string          // large blob digests, oldest first
	nextID    atomic.Int64
}

// ServeNull runs the null registry on addr until ctx ends.
func ServeNull(ctx context.Context, addr string) error {
	n := &nullRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}, tags: map[string]string{}, uploads: map[string][]byte{}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{Handler: n.serve, MaxRequestBodySize: 1 << 30, NoDefaultServerHeader: true, NoDefaultDate: true}
	go func() { <-ctx.Done(); _ = srv.Shutdown() }()
	return srv.Serve(ln)
}

func (n *nullRegistry) serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == "/v2/" || path == "/v2" {
		return
	}
	if i := strings.LastIndex(path, "/blobs/uploads/"); i > 0 {
		n.upload(ctx, path[4:i], path[i+len("/blobs/uploads/"):])
		return
	}
	if i := strings.LastIndex(path, "/blobs/"); i > 0 {
		n.blob(ctx, path[i+len("/blobs/"):])
		return
	}
	if i := strings.LastIndex(path, "/manifests/"); i > 0 {
		n.manifest(ctx, path[4:i], path[i+len("/manifests/"):])
		return
	}
	notFound(ctx, "NAME_UNKNOWN")
}

func notFound(ctx *fasthttp.RequestCtx, code string) {
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"errors":[{"code":"` + code + `","message":"unknown"}]}`)
}

func (n *nullRegistry) blob(ctx *fasthttp.RequestCtx, d string) {
	n.mu.RLock()
	b, ok := n.blobs[d]
	n.mu.RUnlock()
	if !ok {
		notFound(ctx, "BLOB_UNKNOWN")
		return
	}
	h := &ctx.Response.Header
	h.SetContentType("application/octet-stream")
	h.Set("Docker-Content-Digest", d)
	h.Set(fasthttp.HeaderETag, `"`+d+`"`)
	h.Set(fasthttp.HeaderAcceptRanges, "bytes")
	if ctx.IsHead() {
		h.SetContentLength(len(b))
		ctx.Response.SkipBody = true
		return
	}
	ctx.Response.SetBodyRaw(b) // stored bytes are never written again
}

func (n *nullRegistry) upload(ctx *fasthttp.RequestCtx, repo, id string) {
	args := ctx.QueryArgs()
	switch {
	case ctx.IsPost() && args.Has("mount"):
		d := string(args.Peek("mount"))
		n.mu.RLock()
		_, ok := n.blobs[d]
		n.mu.RUnlock()
		if ok {
			created(ctx, repo, d)
			return
		}
		fallthrough
	case ctx.IsPost():
		id = strconv.FormatInt(n.nextID.Add(1), 10)
		n.mu.Lock()
		n.uploads[id] = nil
		n.mu.Unlock()
		ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/blobs/uploads/"+id)
		ctx.Response.Header.Set("Docker-Upload-UUID", id)
		ctx.Response.Header.Set(fasthttp.HeaderRange, "0-0")
		ctx.SetStatusCode(fasthttp.StatusAccepted)
	case ctx.IsPatch():
		n.mu.Lock()
		b, ok := n.uploads[id]
		b = append(b, ctx.Request.Body()...)
		n.uploads[id] = b
		n.mu.Unlock()
		if !ok {
			notFound(ctx, "BLOB_UPLOAD_UNKNOWN")
			return
		}
		ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/blobs/uploads/"+id)
		ctx.Response.Header.Set(fasthttp.HeaderRange, "0-"+strconv.Itoa(len(b)-1))
		ctx.SetStatusCode(fasthttp.StatusAccepted)
	case ctx.IsPut():
		d := string(args.Peek("digest"))
		n.mu.Lock()
		b, ok := n.uploads[id]
		delete(n.uploads, id)
		if ok {
			n.keep(d, append(b, ctx.Request.Body()...))
		}
		n.mu.Unlock()
		if !ok {
			notFound(ctx, "BLOB_UPLOAD_UNKNOWN")
			return
		}
		created(ctx, repo, d)
	default:
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	}
}

// keep stores a blob, dropping the oldest large ones past nullLargeKept;
// n.mu is held.
func (n *nullRegistry) keep(d string, b []byte) {
	n.blobs[d] = b
	if len(b) < nullLarge {
		return
	}
	n.large = append(n.large, d)
	if len(n.large) > nullLargeKept {
		delete(n.blobs, n.large[0])
		n.large = n.large[1:]
	}
}

func created(ctx *fasthttp.RequestCtx, repo, d string) {
	ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/blobs/"+d)
	ctx.Response.Header.Set("Docker-Content-Digest", d)
	ctx.SetStatusCode(fasthttp.StatusCreated)
}

func (n *nullRegistry) manifest(ctx *fasthttp.RequestCtx, repo, ref string) {
	if ctx.IsPut() {
		sum := sha256.Sum256(ctx.Request.Body())
		d := "sha256:" + hex.EncodeToString(sum[:])
		// The media type is kept before the bytes, so a GET answers both.
		ct := ctx.Request.Header.ContentType()
		stored := make([]byte, 0, 1+len(ct)+len(ctx.Request.Body()))
		stored = append(append(append(stored, byte(len(ct))), ct...), ctx.Request.Body()...)
		n.mu.Lock()
		n.manifests[d] = stored
		if !strings.HasPrefix(ref, "sha256:") {
			n.tags[repo+":"+ref] = d
		}
		n.mu.Unlock()
		ctx.Response.Header.Set(fasthttp.HeaderLocation, "/v2/"+repo+"/manifests/"+d)
		ctx.Response.Header.Set("Docker-Content-Digest", d)
		ctx.SetStatusCode(fasthttp.StatusCreated)
		return
	}
	n.mu.RLock()
	d := ref
	if !strings.HasPrefix(ref, "sha256:") {
		d = n.tags[repo+":"+ref]
	}
	stored, ok := n.manifests[d]
	n.mu.RUnlock()
	if !ok {
		notFound(ctx, "MANIFEST_UNKNOWN")
		return
	}
	ct, body := stored[1:1+int(stored[0])], stored[1+int(stored[0]):]
	h := &ctx.Response.Header
	h.SetContentTypeBytes(ct)
	h.Set("Docker-Content-Digest", d)
	h.Set(fasthttp.HeaderETag, `"`+d+`"`)
	if ctx.IsHead() {
		h.SetContentLength(len(body))
		ctx.Response.SkipBody = true
		return
	}
	ctx.Response.SetBodyRaw(body)
}
