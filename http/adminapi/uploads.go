package adminapi

import "github.com/valyala/fasthttp"

// listUploads pages through the open upload sessions in id order,
// optionally those of one repository (?repository=).
func (a *API) listUploads(ctx *fasthttp.RequestCtx) error {
	return listIn(string(ctx.QueryArgs().Peek("repository")), a.svc.Uploads)(ctx)
}

// deleteUpload ends a session and removes its staging file; its client's
// next request on it gets BLOB_UPLOAD_UNKNOWN.
func (a *API) deleteUpload(ctx *fasthttp.RequestCtx) error {
	return noContent(ctx, a.svc.DeleteUpload(a.changeContext(ctx), ctx.UserValue("id").(string)))
}
