package metrics

import (
	"errors"
	"testing"

	"github.com/valyala/fasthttp"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
)

func TestReadyzStates(t *testing.T) {
	for _, c := range []struct {
		check  func() error
		status int
		body   string
	}{
		{nil, 200, `{"status":"ready"}`},
		{func() error { return &Degraded{Reason: "storage below its floor"} }, 200, `{"reason":"storage below its floor","status":"degraded"}`},
		{func() error { return errors.New("metadata store closed") }, 503, `{"reason":"metadata store closed","status":"unavailable"}`},
	} {
		var ctx fasthttp.RequestCtx
		Readyz(c.check)(&ctx)
		if ctx.Response.StatusCode() != c.status || string(ctx.Response.Body()) != c.body {
			t.Errorf("got %d %s, want %d %s", ctx.Response.StatusCode(), ctx.Response.Body(), c.status, c.body)
		}
	}
}

func TestDiskMetrics(t *testing.T) {
	m := New(Sources{Disk: func() ([]diskspace.Status, error) {
		return []diskspace.Status{{
			Names: "data, meta", TotalBytes: 1000, FreeBytes: 10, FloorBytes: 20,
			TotalInodes: 100, FreeInodes: 50, FloorInodes: 1, ReserveBytes: 0, ReserveSize: 64,
		}}, nil
	}})
	wantLines(t, exposed(m),
		`mcr_storage_size_bytes{filesystem="data,meta"} 1000`,
		`mcr_storage_free_bytes{filesystem="data,meta"} 10`,
		`mcr_storage_floor_bytes{filesystem="data,meta"} 20`,
		`mcr_storage_inodes{filesystem="data,meta"} 100`,
		`mcr_storage_free_inodes{filesystem="data,meta"} 50`,
		`mcr_storage_floor_inodes{filesystem="data,meta"} 1`,
		`mcr_storage_reserve_bytes{filesystem="data,meta"} 0`,
		`mcr_storage_below_floor{filesystem="data,meta"} 1`,
	)
}
