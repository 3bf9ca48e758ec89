package metrics

import (
	"io"

	vm "github.com/VictoriaMetrics/metrics"
)

// PostgresStats are the PostgreSQL metadata store's counters (kv's
// PostgresStats, copied so that this package need not import kv): what
// one replica asks of the shared database, and whether its pool made
// requests wait for a connection (docs/scale-out.md).
type PostgresStats struct {
	Statements, RoundTrips uint64
	EmptyAcquires          int64
	EmptyAcquireWaitSecs   float64
	Conns, MaxConns        int32
	SerializationFailures  uint64
}

func writePostgres(w io.Writer, st PostgresStats) {
	vm.WriteCounterUint64(w, "mcr_kv_postgres_statements_total", st.Statements)
	vm.WriteCounterUint64(w, "mcr_kv_postgres_round_trips_total", st.RoundTrips)
	vm.WriteCounterUint64(w, "mcr_kv_postgres_pool_empty_acquires_total", uint64(max(st.EmptyAcquires, 0)))
	vm.WriteCounterFloat64(w, "mcr_kv_postgres_pool_empty_acquire_wait_seconds_total", st.EmptyAcquireWaitSecs)
	vm.WriteGaugeUint64(w, "mcr_kv_postgres_pool_connections", uint64(max(st.Conns, 0)))
	vm.WriteGaugeUint64(w, "mcr_kv_postgres_pool_max_connections", uint64(max(st.MaxConns, 0)))
	vm.WriteCounterUint64(w, "mcr_kv_postgres_serialization_failures_total", st.SerializationFailures)
}
