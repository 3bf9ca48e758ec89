package distapi

import (
	"strings"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// Auditor is an optional capability of the Authorizer (found by type
// assertion): it is told of every mutation that succeeded, so that pushes
// and deletes reach the audit log from this one place. ref is the tag or
// digest of a manifest or blob URL ("" for uploads), digest the content's digest when known. The strings
// are copies: an Auditor may keep them.
type Auditor interface {
	AuditMutation(ctx *fasthttp.RequestCtx, act policy.Action, repo, ref, digest string)
}

// audit reports a successful push (201: a manifest stored, a blob upload
// finished or mounted; not the 202s of an upload in progress), delete
// (202) or manifest pull (a GET's 200: an image pull starts there, and
// blob GETs would multiply the events by the layers) to the Authorizer, if
// it audits. The Authorizer decides whether pulls are recorded.
func (a *API) audit(ctx *fasthttp.RequestCtx, act policy.Action, rt route) {
	au, ok := a.authz.(Auditor)
	if !ok {
		return
	}
	status := ctx.Response.StatusCode()
	pull := act == policy.Pull && status == fasthttp.StatusOK && rt.kind == kindManifest && ctx.IsGet()
	if !pull && !(act == policy.Push && status == fasthttp.StatusCreated) && !(act == policy.Delete && status == fasthttp.StatusAccepted) {
		return
	}
	ref := ""
	if rt.kind == kindManifest || rt.kind == kindBlob {
		ref = rt.arg // not an upload id
	}
	d := string(ctx.Response.Header.Peek("Docker-Content-Digest"))
	if d == "" && strings.Contains(ref, ":") {
		d = ref // a delete by digest
	}
	au.AuditMutation(ctx, act, strings.Clone(rt.repo), strings.Clone(ref), d)
}
