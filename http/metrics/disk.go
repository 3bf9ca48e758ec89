package metrics

import (
	"io"
	"strconv"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"

	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
)

// writeDisk writes one series per watched filesystem, labelled by the
// directories it holds (filesystem="data,meta" when they share one). A
// failed statfs leaves them out of this scrape; the next one retries.
func writeDisk(w io.Writer, statuses func() ([]diskspace.Status, error)) {
	sts, err := statuses()
	if err != nil {
		return
	}
	for _, st := range sts {
		l := "{filesystem=" + strconv.Quote(strings.ReplaceAll(st.Names, " ", "")) + "}"
		vm.WriteGaugeUint64(w, "mcr_storage_size_bytes"+l, st.TotalBytes)
		vm.WriteGaugeUint64(w, "mcr_storage_free_bytes"+l, st.FreeBytes)
		vm.WriteGaugeUint64(w, "mcr_storage_floor_bytes"+l, st.FloorBytes)
		vm.WriteGaugeUint64(w, "mcr_storage_inodes"+l, st.TotalInodes)
		vm.WriteGaugeUint64(w, "mcr_storage_free_inodes"+l, st.FreeInodes)
		vm.WriteGaugeUint64(w, "mcr_storage_floor_inodes"+l, st.FloorInodes)
		vm.WriteGaugeUint64(w, "mcr_storage_reserve_bytes"+l, st.ReserveBytes)
		vm.WriteGaugeUint64(w, "mcr_storage_below_floor"+l, b2u(st.Below(0)))
	}
}
