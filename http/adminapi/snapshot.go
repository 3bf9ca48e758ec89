package adminapi

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// createSnapshot writes a snapshot into a directory on the server: a
// relative one under SnapshotDir (it may not climb out of it), an absolute
// one as given.
func (a *API) createSnapshot(ctx *fasthttp.RequestCtx) error {
	if a.d.Snapshot == nil {
		return errNotManaged("snapshots")
	}
	var in apiv1.SnapshotRequest
	if err := readJSON(ctx, &in, false); err != nil {
		return err
	}
	dir := in.Dir
	switch {
	case dir == "":
		return errcode.New(errcode.Invalid, "dir is required")
	case !filepath.IsAbs(dir) && !filepath.IsLocal(dir):
		return errcode.New(errcode.Invalid, "dir %q: a relative dir must stay under the snapshot directory", dir)
	case !filepath.IsAbs(dir):
		dir = filepath.Join(a.d.SnapshotDir, dir)
	}
	m, err := a.d.Snapshot(reqctx.Context(ctx), filepath.Clean(dir))
	if errors.Is(err, snapshot.ErrNotEmpty) {
		return errcode.New(errcode.Conflict, "%s exists and is not empty", dir)
	}
	if err != nil {
		return err
	}
	a.record(ctx, audit.Snapshot, "snapshot", "", "", "snapshot to "+dir)
	return writeJSON(ctx, fasthttp.StatusCreated, apiv1.Snapshot{
		Dir: dir, Created: m.Created.UTC(), Blobs: len(m.Blobs), BlobBytes: m.Bytes(),
		Linked: m.Linked, Copied: m.Copied, MetadataBytes: m.BackupSize,
	})
}

// pprof serves the Go profiler under /api/v1/debug/pprof/, behind the
// admin action like every route here.
func (a *API) pprof(ctx *fasthttp.RequestCtx) error {
	// The handler matches /debug/pprof/...; the path is put back after it
	// so that the access log and metrics still see an admin route.
	path := string(ctx.Path())
	ctx.Request.URI().SetPath(strings.TrimPrefix(path, apiv1.Prefix))
	pprofhandler.PprofHandler(ctx)
	ctx.Request.URI().SetPath(path)
	return nil
}
