package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/kv"
	"git.wntrmute.dev/kyle/mcr/kv/pgtest"
)

// statementLog counts the statements PostgreSQL ran for one database, from
// the server's log (log_statement = all): every statement is a round
// trip or part of one, so the count is what a push or a pull costs the
// database, whatever the machine's load.
type statementLog struct {
	srv *pgtest.Server
	dsn string
}

// openStatementLog starts a server of the test's own and a database on it
// that logs every statement.
func openStatementLog(t *testing.T) *statementLog {
	t.Helper()
	srv := pgtest.Private(t)
	ctx := context.Background()
	db, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.LogStatements(ctx, db); err != nil {
		t.Fatal(err)
	}
	return &statementLog{srv: srv, dsn: srv.DSN(db)}
}

// lines returns the statements logged so far by sessions other than the
// change listener's (its polls run on their own clock), in order.
func (l *statementLog) lines(t *testing.T) []string {
	t.Helper()
	skip := l.listenerPIDs(t)
	f, err := os.Open(l.srv.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, "LOG:  statement: ")
		if i < 0 {
			i = strings.Index(line, "LOG:  execute ")
		}
		if i < 0 || skip(line) {
			continue
		}
		out = append(out, line[i+len("LOG:  "):])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// listenerPIDs finds the server processes of the change listeners
// (kv.ListenerName) and returns a test for their log lines ("[pid]").
func (l *statementLog) listenerPIDs(t *testing.T) func(line string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, l.srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, kv.ListenerName)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return func(line string) bool {
		for _, p := range pids {
			if strings.Contains(line, fmt.Sprintf("[%d]", p)) {
				return true
			}
		}
		return false
	}
}

// count runs op and returns the statements it ran.
func (l *statementLog) count(t *testing.T, op func()) []string {
	t.Helper()
	before := len(l.lines(t))
	op()
	return l.lines(t)[before:]
}

// TestStatementsPerImage pushes an image the way a client does over HTTP
// (per blob: HEAD, POST, PUT; then the manifest by tag) and pulls it back
// (the manifest by tag, then each blob), on PostgreSQL, and bounds the
// statements each request costs. The bounds are properties of the code,
// not of the machine: a read of independent keys is one statement
// (kv.ReadKeys), a tag's manifest two; a write is BEGIN, one statement
// for what it reads (kv.GetMany), at most one more for a dependent read,
// one for all it writes, and COMMIT. (Before the write buffer and the
// multi-key reads: 100 per push of 4 blobs, 20 per pull.)
func TestStatementsPerImage(t *testing.T) {
	l := openStatementLog(t)
	store, err := kv.OpenPostgres(context.Background(), kv.PostgresOptions{DSN: l.dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	blobs, err := blobstore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := New(store, blobs, Options{})
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	ctx := context.Background()
	const repo = "count/image"

	// PUT upload: the session's record, then BEGIN, the link's reads, the
	// writes, COMMIT. PUT manifest: BEGIN, the references, the
	// repository's record, the tag generation (a shared store), the
	// writes, COMMIT.
	// Mount from a repository: BEGIN, one read of the source's link and
	// everything the link depends on, the writes, COMMIT.
	bounds := map[string]int{"HEAD blob": 1, "POST upload": 3, "PUT upload": 5, "PUT manifest": 6, "GET manifest": 2, "GET blob": 1, "mount": 4}
	perOp := map[string][]int{}
	check := func(op string, stmts []string) {
		t.Helper()
		perOp[op] = append(perOp[op], len(stmts))
		if len(stmts) > bounds[op] {
			t.Errorf("%s ran %d statements, want at most %d:\n%s", op, len(stmts), bounds[op], strings.Join(stmts, "\n"))
		}
	}
	var layers [][]byte
	for i := range 3 {
		layers = append(layers, []byte(fmt.Sprintf("layer %d of the counted image", i)))
	}
	cfg := []byte(`{"os":"linux","architecture":"amd64"}`)
	var push, pull int
	for _, b := range append(layers, cfg) {
		d := digest.FromBytes(b)
		push += len(l.count(t, func() {
			check("HEAD blob", l.count(t, func() { _, _ = r.StatBlob(ctx, repo, d) }))
			var up Upload
			check("POST upload", l.count(t, func() {
				if up, err = r.StartUpload(ctx, repo); err != nil {
					t.Fatal(err)
				}
			}))
			check("PUT upload", l.count(t, func() {
				if err := r.FinishUpload(ctx, repo, up.ID, d, -1, bytes.NewReader(b), int64(len(b))); err != nil {
					t.Fatal(err)
				}
			}))
		}))
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[`,
		digest.FromBytes(cfg), len(cfg))
	for i, b := range layers {
		if i > 0 {
			m += ","
		}
		m += fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, digest.FromBytes(b), len(b))
	}
	m += "]}"
	push += len(l.count(t, func() {
		check("PUT manifest", l.count(t, func() {
			if _, err := r.PutManifest(ctx, repo, names.Reference{Tag: "v1"}, "application/vnd.oci.image.manifest.v1+json", []byte(m), nil); err != nil {
				t.Fatal(err)
			}
		}))
	}))
	pull += len(l.count(t, func() {
		check("GET manifest", l.count(t, func() {
			if _, err := r.GetManifest(ctx, repo, names.Reference{Tag: "v1"}); err != nil {
				t.Fatal(err)
			}
		}))
		for _, b := range append(layers, cfg) {
			check("GET blob", l.count(t, func() {
				f, _, err := r.OpenBlob(ctx, repo, digest.FromBytes(b))
				if err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
			}))
		}
	}))
	check("mount", l.count(t, func() {
		if ok, err := r.MountBlob(ctx, "count/other", repo, digest.FromBytes(cfg), nil); err != nil || !ok {
			t.Fatalf("mount: %v, %v", ok, err)
		}
	}))
	t.Logf("statements per push of %d blobs and a manifest: %d; per pull: %d; by request: %v", len(layers)+1, push, pull, perOp)
}
