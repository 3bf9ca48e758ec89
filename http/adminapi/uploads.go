package adminapi

import (
	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/reqctx"
)

// listUploads pages through the open upload sessions in id order,
// optionally those of one repository (?repository=).
func (a *API) listUploads(ctx *fasthttp.RequestCtx) error {
	n, cursor, err := page(ctx)
	if err != nil {
		return err
	}
	repo := string(ctx.QueryArgs().Peek("repository"))
	if repo != "" {
		if err := names.Repo(repo); err != nil {
			return err
		}
	}
	infos, more, err := a.d.Registry.UploadInfos(reqctx.Context(ctx), repo, cursor, n)
	if err != nil {
		return err
	}
	out := apiv1.UploadPage{Uploads: make([]apiv1.Upload, 0, len(infos))}
	for _, info := range infos {
		out.Uploads = append(out.Uploads, upload(info))
	}
	if more {
		out.Next = infos[len(infos)-1].ID
	}
	return writeJSON(ctx, fasthttp.StatusOK, out)
}

func upload(info engine.UploadInfo) apiv1.Upload {
	return apiv1.Upload{ID: info.ID, Repository: info.Repo, Bytes: info.Bytes, Started: info.Started, LastWrite: timeOrNil(info.LastWrite)}
}

// deleteUpload ends a session and removes its staging file; its client's
// next request on it gets BLOB_UPLOAD_UNKNOWN.
func (a *API) deleteUpload(ctx *fasthttp.RequestCtx) error {
	info, err := a.d.Registry.RemoveUpload(reqctx.Context(ctx), ctx.UserValue("id").(string))
	if err != nil {
		return err
	}
	a.record(ctx, audit.Delete, string(policy.Admin), info.Repo, "", "upload session "+info.ID+" (admin API)")
	return noContent(ctx)
}
