package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
	"git.wntrmute.dev/kyle/mcr/bench/scenario"
	"git.wntrmute.dev/kyle/mcr/bench/server"
)

// clusterProbe measures, over each timed window of a scenario run
// through a cluster, everything shared behind the replicas: HAProxy's,
// PostgreSQL's and the S3 server's CPU; the statements, round trips and
// pool waits the replicas report on /metrics (mcr_kv_postgres_*); the S3
// requests on the cluster's bucket (versitygw's access log); PostgreSQL's
// own view (pg_stat_database's transactions, serialization failures in
// its log, pg_stat_activity sampled every activityEvery); and how evenly
// HAProxy spread the requests. It is the cluster's scenario.Meter: the
// replicas' CPU summed is "server CPU/op".
type clusterProbe struct {
	*server.Cluster
	svc  *server.Services
	db   *pgx.Conn // the cluster's database, for its statistics
	http *http.Client
}

var (
	_ scenario.Meter = (*clusterProbe)(nil)
	_ scenario.Probe = (*clusterProbe)(nil)
)

// activityEvery is how often a window samples pg_stat_activity.
const activityEvery = 100 * time.Millisecond

func newClusterProbe(ctx context.Context, c *server.Cluster, svc *server.Services) (*clusterProbe, error) {
	db, err := pgx.Connect(ctx, c.Storage.PostgresDSN)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL statistics: %w", err)
	}
	return &clusterProbe{Cluster: c, svc: svc, db: db, http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}}, nil
}

func (p *clusterProbe) close() { _ = p.db.Close(context.Background()) }

// probeSnap is the counters at one end of a window.
type probeSnap struct {
	proxy, s3cpu time.Duration
	pg           machine.TreeCPU
	kv           map[string]float64 // mcr_kv_postgres_* summed over the replicas
	s3           int                // requests on the bucket
	commits      int64
	rollbacks    int64
	pgLog        int64 // size of PostgreSQL's log
	served       []int // requests HAProxy passed to each replica
}

func (p *clusterProbe) snap() (probeSnap, error) {
	s := probeSnap{proxy: machine.ProcCPU(p.Proxy.Pid()), s3cpu: machine.ProcCPU(p.svc.S3.Pid()), pg: machine.SnapTree(p.svc.PostgresPid())}
	var err error
	if s.kv, err = p.scrape(); err != nil {
		return s, err
	}
	ops, err := s3Requests(p.svc.S3AccessLog(), p.Storage.S3.Bucket)
	if err != nil {
		return s, err
	}
	for _, n := range ops {
		s.s3 += n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.db.QueryRow(ctx, `SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.commits, &s.rollbacks); err != nil {
		return s, err
	}
	if fi, err := os.Stat(p.svc.SQLLog()); err == nil {
		s.pgLog = fi.Size()
	}
	srv, err := p.Proxy.Servers()
	for _, x := range srv {
		s.served = append(s.served, x.Total)
	}
	return s, err
}

// kvFamilies are the replicas' PostgreSQL counters the probe sums.
var kvFamilies = []string{"mcr_kv_postgres_statements_total", "mcr_kv_postgres_round_trips_total",
	"mcr_kv_postgres_pool_empty_acquires_total", "mcr_kv_postgres_pool_empty_acquire_wait_seconds_total", "mcr_kv_postgres_pool_connections"}

// scrape sums kvFamilies over the replicas' /metrics.
func (p *clusterProbe) scrape() (map[string]float64, error) {
	sum := map[string]float64{}
	for _, r := range p.Replicas {
		res, err := p.http.Get("http://" + r.Addr + "/metrics")
		if err != nil {
			return nil, err
		}
		err = sumFamilies(res.Body, sum)
		_ = res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("/metrics of %s: %w", r.Addr, err)
		}
	}
	for _, f := range kvFamilies {
		if _, ok := sum[f]; !ok {
			return nil, fmt.Errorf("the replicas expose no %s: an mcrsrv without the PostgreSQL counters", f)
		}
	}
	return sum, nil
}

// sumFamilies adds the samples of kvFamilies (unlabelled) in a
// Prometheus text exposition to sum.
func sumFamilies(r io.Reader, sum map[string]float64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || !strings.HasPrefix(name, "mcr_kv_postgres_") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Text(), err)
		}
		sum[name] += v
	}
	return sc.Err()
}

// Window implements scenario.Probe.
func (p *clusterProbe) Window() func() []scenario.Reading {
	a, errA := p.snap()
	stop, done := make(chan struct{}), make(chan activity)
	go func() { done <- p.sampleActivity(stop) }()
	return func() []scenario.Reading {
		close(stop)
		act := <-done
		b, errB := p.snap()
		if errA != nil || errB != nil {
			logf("cluster probe: %v %v", errA, errB)
			return nil
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		perOp := func(name, unit string, v float64) scenario.Reading {
			return scenario.Reading{Name: name, Unit: unit, Value: v, PerOp: true}
		}
		out := []scenario.Reading{
			perOp("HAProxy CPU", "ms", ms(b.proxy-a.proxy)),
			perOp("PostgreSQL CPU", "ms", ms(b.pg.Since(a.pg))),
			perOp("S3 server CPU", "ms", ms(b.s3cpu-a.s3cpu)),
			perOp("PostgreSQL statements", "", b.kv[kvFamilies[0]]-a.kv[kvFamilies[0]]),
			perOp("PostgreSQL round trips", "", b.kv[kvFamilies[1]]-a.kv[kvFamilies[1]]),
			perOp("pool waits", "", b.kv[kvFamilies[2]]-a.kv[kvFamilies[2]]),
			perOp("pool wait", "ms", 1000*(b.kv[kvFamilies[3]]-a.kv[kvFamilies[3]])),
			perOp("S3 requests", "", float64(b.s3-a.s3)),
			perOp("PostgreSQL commits", "", float64(b.commits-a.commits)),
			perOp("PostgreSQL rollbacks", "", float64(b.rollbacks-a.rollbacks)),
			{Name: "serialization failures", Value: float64(p.serializationFailures(a.pgLog))},
			{Name: "pool connections", Value: b.kv[kvFamilies[4]]},
			{Name: "PostgreSQL busy backends", Value: act.meanBusy()},
			{Name: "Lock waits", Unit: "%", Value: act.pct("Lock")},
			{Name: "LWLock waits", Unit: "%", Value: act.pct("LWLock")},
			{Name: "waiting on mcr in a transaction", Unit: "%", Value: act.pct("Client")},
			{Name: "busiest replica share", Unit: "%", Value: busiestShare(a.served, b.served)},
		}
		return out
	}
}

// serializationFailures counts the serialization failures and deadlocks
// PostgreSQL logged past offset: each one a transaction mcr retried.
func (p *clusterProbe) serializationFailures(offset int64) int {
	f, err := os.Open(p.svc.SQLLog())
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "could not serialize access") || strings.Contains(l, "deadlock detected") {
			n++
		}
	}
	return n
}

// busiestShare is the largest share of the window's requests one replica
// served, in percent: 100/N under an even round robin.
func busiestShare(a, b []int) float64 {
	total, most := 0, 0
	for i := range b {
		d := b[i]
		if i < len(a) {
			d -= a[i]
		}
		total += d
		most = max(most, d)
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(most) / float64(total)
}

// activity is what the samples of pg_stat_activity saw: the backends of
// the cluster's database inside a statement or a transaction, by what
// they waited on ("" for running on a CPU).
type activity struct {
	samples int
	busy    int
	waits   map[string]int
}

func (a activity) meanBusy() float64 {
	if a.samples == 0 {
		return 0
	}
	return float64(a.busy) / float64(a.samples)
}

// pct is the share of busy backend samples waiting on a wait event type.
func (a activity) pct(kind string) float64 {
	if a.busy == 0 {
		return 0
	}
	return 100 * float64(a.waits[kind]) / float64(a.busy)
}

// sampleActivity samples pg_stat_activity every activityEvery until stop.
func (p *clusterProbe) sampleActivity(stop <-chan struct{}) activity {
	act := activity{waits: map[string]int{}}
	t := time.NewTicker(activityEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return act
		case <-t.C:
		}
		// Window's snapshots use the connection only before this
		// goroutine starts and after it returns.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rows, err := p.db.Query(ctx, `SELECT coalesce(wait_event_type, '') FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')`)
		if err == nil {
			act.samples++
			for rows.Next() {
				var w string
				if rows.Scan(&w) == nil {
					act.busy++
					act.waits[w]++
				}
			}
			rows.Close()
		}
		cancel()
	}
}
