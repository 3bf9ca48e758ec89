package main

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// keyDocs is the one-line description of every configuration key, by TOML
// path. It is the single source of the comments in `mcrsrv config
// default` (deploy/mcr.toml) and of the key table in docs/operations.md;
// TestConfigKeysDocumented fails when a key of Config is missing here or
// an entry names no key. A new key: add its field (with a toml tag and a
// default in Defaults), its line here, then `make deploy-config`.
var keyDocs = map[string]string{
	"addr": "listen address, host:port",
	"data": "data directory: meta/ (Badger), blobs/, uploads/, snapshots/; created 0700",

	"log.level":  "trace, debug, info, warn or error; debug logs every request",
	"log.format": "auto (console on a terminal, JSON otherwise), json or console",

	"http.read_timeout":     "longest time to read one request, body included",
	"http.write_timeout":    "longest time to write one response",
	"http.idle_timeout":     "how long an idle keep-alive connection is kept",
	"http.shutdown_timeout": "how long after SIGTERM in-flight requests may run (the drain included)",
	"http.drain":            "how long after SIGTERM /readyz answers 503 while everything is still served; the load balancer's health-check period",
	"http.concurrency":      "connections served at once",
	"http.max_header_size":  "largest request line and headers together (431 past it); every open connection keeps a read buffer of this size",
	"http.trusted_proxies":  "reverse proxies (CIDRs or addresses) whose X-Forwarded-Proto, -Host and -For are believed; MCR_HTTP_TRUSTED_PROXIES takes a comma-separated list",

	"tls.cert_file":       "PEM certificate chain, leaf first; with tls.key_file, addr serves HTTPS; empty: plain HTTP",
	"tls.key_file":        "PEM private key of the certificate (PKCS#8, PKCS#1 or SEC 1)",
	"tls.client_ca_file":  "PEM CA bundle: when set, every client must present a certificate signed by one of them (mutual TLS)",
	"tls.reload_interval": "how often the three TLS files are checked for a change; SIGHUP reloads at once",

	"grpc.addr": "host:port of the gRPC admin API (mcr.v1), served with the tls.* settings of addr; empty: off",

	"manifest.allow_sparse": "accept manifests that name blobs or child manifests the repository lacks",

	"uploads.workers":      "uploads written to disk at once",
	"uploads.queue":        "uploads that may wait for a worker before the registry answers 429",
	"uploads.idle_timeout": "a request whose body makes no progress this long is cut off (connection closed)",
	"uploads.per_account":  "uploads one account (one address, for anonymous pushes) streams at once; past it, 429 with Retry-After; 0: no bound",

	"auth.mode":            "builtin (mcr's accounts), mcias (external identity service) or none (no authentication: development only)",
	"auth.service":         "this registry's name in challenges; the audience of its tokens",
	"auth.realm":           "token endpoint URL announced in challenges, e.g. https://registry.example.com/v2/token; empty: from each request (behind a proxy, set it or list the proxy in http.trusted_proxies)",
	"auth.token_ttl":       "life of an access token",
	"auth.refresh_ttl":     "life of a refresh token (docker login keeps one)",
	"auth.login_cache_ttl": "how long a successful login is remembered, so Basic credentials on every request cost no argon2id; 0: off, at most 1h",
	"auth.admin_user":      "name of the first admin, created on a data directory without accounts",
	"auth.mcias.url":       "https:// base URL of MCIAS (auth.mode mcias)",
	"auth.mcias.ca_file":   "PEM CAs to trust for MCIAS; empty: the system's roots",
	"auth.mcias.timeout":   "bound on each request to MCIAS",

	"gc.interval":        "time between scheduled garbage collections; 0: on demand only",
	"gc.grace":           "content younger than this is never collected (layers of a push in progress, orphan files)",
	"gc.delete_untagged": "collect untagged manifests older than gc.grace (not index children or referrers of live manifests)",
	"gc.upload_expiry":   "upload sessions idle this long are abandoned and removed",
	"gc.workers":         "concurrent sweep transactions of one collection",
	"gc.timeout":         "bound on one collection; 0: none",
	"gc.orphan_interval": "how often a collection also walks the blob files for orphans; 0: every time",
	"gc.duty":            "share of the time an online collection works, in (0, 1]; it sleeps the rest",

	"jobs.workers":          "background jobs that run at once",
	"jobs.uploads_interval": "how often abandoned upload sessions are expired; 0: never",
	"jobs.vlog_interval":    "how often Badger's value log is compacted; 0: never",
	"jobs.lease_ttl":        "life of the background-jobs leader lease between renewals (several replicas on PostgreSQL); a dead leader is replaced within 4/3 of it",

	"audit.queue":              "audit events waiting to be written; beyond it events are shed and counted",
	"audit.max_age":            "delete audit events older than this; 0: keep them",
	"audit.max_count":          "keep at most this many audit events, the newest; 0: no limit",
	"audit.max_bytes":          "keep at most this many bytes (keys and values) of audit events, the newest; 0: no limit",
	"audit.aggregate_window":   "failed logins and anonymous tokens and denials from one source in one window become one event with a count (1s to 1h)",
	"audit.retention_interval": "how often the audit retention job applies max_age, max_count and max_bytes; 0: on demand only",
	"audit.pulls":              "record manifest pulls as well as pushes and deletes",

	"metrics.require_auth": "put /metrics behind authentication (the admin action); /healthz and /readyz stay open",

	"ui.enabled":     "serve the web UI under /ui (docs/ui.md)",
	"ui.session_ttl": "lifetime of a web UI sign-in; signing out ends it sooner",

	"memory.limit": "soft limit on the Go runtime's memory (256MiB, 1GB, bytes); 0: off; GOMEMLIMIT takes precedence",

	"metadata.backend":                   "where the metadata lives: badger (embedded, <data>/meta) or postgres (docs/operations.md, Metadata on PostgreSQL)",
	"metadata.postgres.dsn":              "PostgreSQL connection string or URL (backend postgres); keep the password in PGPASSWORD or ~/.pgpass",
	"metadata.postgres.max_conns":        "connection pool size; 0: 4 per CPU (GOMAXPROCS), at least 16",
	"metadata.postgres.idle_txn_timeout": "the server ends a session idle inside a transaction this long, releasing its locks (a paused replica); 0: the server's setting",
	"storage.sync":                       "how a write is made durable before it is acknowledged: group (syncs shared by concurrent writers: the filesystem for blob files, Badger's logs for metadata) or file (fsync each file)",
	"storage.min_free":                   "floor of free space on each filesystem mcr writes: a percentage, an amount, or both (the smaller applies), never under 32 MiB; below it pushes get 507",
	"storage.min_free_inodes":            "floor of free inodes, written the same way with a count",
	"storage.reserve":                    "space preallocated in <data>/meta/space-reserve and handed to the metadata store below the floor; 0 none, else at least 16 MiB",
	"storage.backend":                    "where blob bytes live: fs (files under the data directory) or s3 (the bucket of storage.s3; see Blobs on S3)",
	"storage.s3.endpoint":                "http:// or https:// URL of the S3 service; empty: the provider's default for the region",
	"storage.s3.bucket":                  "the bucket, which must exist (required with s3)",
	"storage.s3.region":                  "the bucket's region, used for signing (required with s3)",
	"storage.s3.prefix":                  "put before every key, e.g. mcr/, to share a bucket",
	"storage.s3.access_key_id":           "credentials; set both or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used)",
	"storage.s3.secret_access_key":       "the secret of storage.s3.access_key_id",
	"storage.s3.part_size":               "multipart part size, at least 5MiB; an upload in progress holds at most one part in memory",
	"storage.s3.redirect":                "answer blob GETs with 307 to a presigned URL valid 5 minutes; false streams through mcr",
}

// otherEnv are MCR_* variables that are not configuration keys but are
// not mistakes either: mcrsrv's --config, and mcrctl's own settings,
// which an operator's shell on the server may well export.
var otherEnv = map[string]bool{"MCR_CONFIG": true, "MCR_SERVER": true, "MCR_TOKEN": true}

// configKey is one leaf of Config: a key of the TOML file.
type configKey struct {
	Path  string        // TOML path, e.g. "http.read_timeout"
	Table string        // the TOML table that holds it ("" for top-level keys)
	Name  string        // its name inside Table
	Value reflect.Value // the field, addressable when the walk started from a pointer
}

// Env is the key's environment variable: MCR_ and its path in upper case,
// dots as underscores.
func (k configKey) Env() string {
	return "MCR_" + strings.ToUpper(strings.ReplaceAll(k.Path, ".", "_"))
}

// configKeys lists the keys of the Config that v holds, in the order a
// TOML file must write them: a table's own keys, then its sub-tables.
func configKeys(v reflect.Value) []configKey {
	var keys []configKey
	walkKeys(v, "", &keys)
	return keys
}

func walkKeys(v reflect.Value, table string, keys *[]configKey) {
	t := v.Type()
	var tables []int
	for i := range t.NumField() {
		if isTable(t.Field(i).Type) {
			tables = append(tables, i)
			continue
		}
		name := t.Field(i).Tag.Get("toml")
		*keys = append(*keys, configKey{Path: joinPath(table, name), Table: table, Name: name, Value: v.Field(i)})
	}
	for _, i := range tables {
		walkKeys(v.Field(i), joinPath(table, t.Field(i).Tag.Get("toml")), keys)
	}
}

// isTable says whether a field of type t is a TOML table (a section) rather
// than a value: structs are, except those written as text (Duration, Size).
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

func joinPath(table, name string) string {
	if table == "" {
		return name
	}
	return table + "." + name
}

// tomlValue writes v as a TOML value.
func tomlValue(v reflect.Value) (string, error) {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		return tomlString(string(b)), err
	}
	switch v.Kind() {
	case reflect.String:
		return tomlString(v.String()), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") { // 1 would read back as an integer
			s += ".0"
		}
		return s, nil
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			p, err := tomlValue(v.Index(i))
			if err != nil {
				return "", err
			}
			parts[i] = p
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("no TOML form for a config value of type %s", v.Type())
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
