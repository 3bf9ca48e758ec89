package metrics

import (
	"io"
	"strconv"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
)

// writeDisk writes one series per watched filesystem, labelled by the
// directories it holds (filesystem="data,meta" when they share one),
// family by family (the text format wants a family's samples together).
// A failed statfs leaves them out of this scrape; the next one retries.
func writeDisk(w io.Writer, statuses func() ([]diskspace.Status, error)) {
	sts, err := statuses()
	if err != nil {
		return
	}
	for _, f := range []struct {
		name  string
		value func(diskspace.Status) uint64
	}{
		{"mcr_storage_size_bytes", func(s diskspace.Status) uint64 { return s.TotalBytes }},
		{"mcr_storage_free_bytes", func(s diskspace.Status) uint64 { return s.FreeBytes }},
		{"mcr_storage_floor_bytes", func(s diskspace.Status) uint64 { return s.FloorBytes }},
		{"mcr_storage_inodes", func(s diskspace.Status) uint64 { return s.TotalInodes }},
		{"mcr_storage_free_inodes", func(s diskspace.Status) uint64 { return s.FreeInodes }},
		{"mcr_storage_floor_inodes", func(s diskspace.Status) uint64 { return s.FloorInodes }},
		{"mcr_storage_reserve_bytes", func(s diskspace.Status) uint64 { return s.ReserveBytes }},
		{"mcr_storage_below_floor", func(s diskspace.Status) uint64 { return b2u(s.Below(0)) }},
	} {
		for _, st := range sts {
			l := "{filesystem=" + strconv.Quote(strings.ReplaceAll(st.Names, " ", "")) + "}"
			vm.WriteGaugeUint64(w, f.name+l, f.value(st))
		}
	}
}
