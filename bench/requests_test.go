package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The counters read versitygw's access log (the second field is the
// bucket, the eighth the operation) and PostgreSQL's statement log.
func TestRequestCounters(t *testing.T) {
	dir := t.TempDir()
	access := filepath.Join(dir, "access.log")
	if err := os.WriteFile(access, []byte(`log starts 2026-12-07 00:00:34 +0000 UTC
- bench-mcr-1 [07/December/2026:00:00:36 +0000] 127.0.0.1 - 18Y0 s3_PutObject k /b/k 200 - 0 0 0 0 - ua - x SigV4 - AuthHeader h - arn Yes
- bench-mcr-1 [07/December/2026:00:00:36 +0000] 127.0.0.1 - 18Y1 s3_HeadObject k /b/k 404 - 0 0 0 0 - ua - x SigV4 - AuthHeader h - arn Yes
- bench-mcr-1 [07/December/2026:00:00:36 +0000] 127.0.0.1 - 18Y2 s3_PutObject k /b/k 200 - 0 0 0 0 - ua - x SigV4 - AuthHeader h - arn Yes
- bench-reference-2 [07/December/2026:00:00:36 +0000] 127.0.0.1 - 18Y3 s3_PutObject k /b/k 200 - 0 0 0 0 - ua - x SigV4 - AuthHeader h - arn Yes
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ops, err := s3Requests(access, "bench-mcr-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops["PutObject"] != 2 || ops["HeadObject"] != 1 {
		t.Fatalf("bench-mcr-1's requests: %v; want PutObject 2, HeadObject 1", ops)
	}
	sql := filepath.Join(dir, "pg.log")
	if err := os.WriteFile(sql, []byte(`2026-12-07 00:00:36.1 UTC [12] LOG:  statement: begin isolation level serializable
2026-12-07 00:00:36.1 UTC [12] LOG:  execute stmtcache_1: SELECT v FROM kv WHERE k = $1
2026-12-07 00:00:36.1 UTC [12] DETAIL:  parameters: $1 = '\x62'
2026-12-07 00:00:36.2 UTC [12] LOG:  statement: commit
2026-12-07 00:00:36.3 UTC [9] LOG:  checkpoint starting: time
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := sqlStatements(sql); err != nil || n != 3 {
		t.Fatalf("statements: %d, %v; want 3", n, err)
	}
	per, total := perImage(map[string]int{"PutObject": 2}, map[string]int{"PutObject": 6, "HeadObject": 2}, 2)
	if total != 3 || per["PutObject"] != 2 || per["HeadObject"] != 1 {
		t.Fatalf("per image: %v, total %v; want PutObject 2, HeadObject 1, total 3", per, total)
	}
}
