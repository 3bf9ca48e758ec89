package ui

import (
	"fmt"
	"html/template"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

// static serves the embedded stylesheet, script and icon.
func (u *UI) static(ctx *fasthttp.RequestCtx) {
	secure(ctx)
	name, _ := ctx.UserValue("file").(string)
	b, err := files.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		u.NotFound(ctx)
		return
	}
	switch path.Ext(name) {
	case ".css":
		ctx.SetContentType("text/css; charset=utf-8")
	case ".js":
		ctx.SetContentType("text/javascript; charset=utf-8")
	case ".svg":
		ctx.SetContentType("image/svg+xml")
	default:
		ctx.SetContentType("application/octet-stream")
	}
	ctx.Response.Header.Set("Cache-Control", "max-age=300")
	ctx.SetBody(b)
}

// funcs are the templates' helpers: formatting only, every value still
// goes through html/template's escaping.
var funcs = template.FuncMap{
	"size":     byteSize,
	"when":     when,
	"short":    shortDigest,
	"join":     strings.Join,
	"linkable": validDigest,
	"has":      slices.Contains[[]policy.Action],
	"types":    func() []string { return []string{identity.Human, identity.System, policy.Anonymous} },
	// ops are the buttons of a stored rule.
	"ops": func(enabled bool) []string {
		if enabled {
			return []string{"disable", "delete"}
		}
		return []string{"enable", "delete"}
	},
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// shortDigest is a digest's algorithm and first 12 hex digits.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}
