package main

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/http/server"
)

// Config is mcrsrv's configuration: defaults, then the TOML file, then
// MCR_* environment variables, then command-line flags. Every key has an
// environment variable named after its TOML path: http.read_timeout is
// MCR_HTTP_READ_TIMEOUT. Every key has a line in keyDocs (configkeys.go),
// which documents it in deploy/mcr.toml and docs/operations.md.
type Config struct {
	Addr     string         `toml:"addr"`
	Data     string         `toml:"data"`
	Log      LogConfig      `toml:"log"`
	HTTP     HTTPConfig     `toml:"http"`
	TLS      TLSConfig      `toml:"tls"`
	GRPC     GRPCConfig     `toml:"grpc"`
	Manifest ManifestConfig `toml:"manifest"`
	Uploads  UploadsConfig  `toml:"uploads"`
	Auth     AuthConfig     `toml:"auth"`
	GC       GCConfig       `toml:"gc"`
	Jobs     JobsConfig     `toml:"jobs"`
	Audit    AuditConfig    `toml:"audit"`
	Metrics  MetricsConfig  `toml:"metrics"`
	UI       UIConfig       `toml:"ui"`
	Memory   MemoryConfig   `toml:"memory"`
	Storage  StorageConfig  `toml:"storage"`
	Metadata MetadataConfig `toml:"metadata"`
}

// MetricsConfig sets the Prometheus endpoint (docs/operations.md).
type MetricsConfig struct {
	// RequireAuth puts /metrics behind authentication: the scraper needs
	// an account with the admin action. /healthz and /readyz stay open.
	RequireAuth bool `toml:"require_auth"`
}

// UIConfig sets the web UI served under /ui (docs/ui.md).
type UIConfig struct {
	// Enabled serves the web UI under /ui: browse repositories and
	// images, and run the registry's operations from a browser.
	Enabled bool `toml:"enabled"`
	// SessionTTL bounds a web UI sign-in; signing out ends it sooner.
	SessionTTL Duration `toml:"session_ttl"`
}

// AuthConfig sets authentication (docs/security.md).
type AuthConfig struct {
	// Mode is builtin (mcr's own accounts), mcias (an external identity
	// service) or none (no authentication: local development only).
	Mode string `toml:"mode"`
	// Service names this registry in challenges and is the audience of
	// its tokens.
	Service string `toml:"service"`
	// Realm is the token endpoint URL announced in challenges, e.g.
	// https://registry.example.com/v2/token; empty derives it from each
	// request's scheme and Host.
	Realm string `toml:"realm"`
	// TokenTTL is the life of an access token.
	TokenTTL Duration `toml:"token_ttl"`
	// RefreshTTL is the life of a refresh token (docker login keeps one).
	RefreshTTL Duration `toml:"refresh_ttl"`
	// LoginCacheTTL is how long a successful login is remembered (by a
	// SHA-256 of the credentials), so that clients sending Basic
	// credentials on every request cost a few reads, not an argon2id
	// each; 0 turns the cache off.
	LoginCacheTTL Duration `toml:"login_cache_ttl"`
	// AdminUser names the first admin, created on a data directory with
	// no account.
	AdminUser string      `toml:"admin_user"`
	MCIAS     MCIASConfig `toml:"mcias"`
}

// MCIASConfig reaches the external identity service of auth.mode mcias.
type MCIASConfig struct {
	URL     string   `toml:"url"`     // https://...
	CAFile  string   `toml:"ca_file"` // PEM CAs to trust instead of the system's
	Timeout Duration `toml:"timeout"`
}

// LogConfig sets the logger.
type LogConfig struct {
	Level string `toml:"level"` // trace, debug, info, warn, error
	// Format is json, console (human-readable, coloured) or auto:
	// console when stderr is a terminal, json otherwise, so that a file
	// or journald gets no colour codes.
	Format string `toml:"format"`
}

const (
	logAuto    = "auto"
	logJSON    = "json"
	logConsole = "console"
)

// The bounds of http.max_header_size: below 4 KiB a registry client's
// bearer token and headers may not fit; past 1 MiB (Go's net/http default)
// a slow client holds that much per connection.
const (
	minHeaderSize = 4 << 10
	maxHeaderSize = 1 << 20
)

// HTTPConfig tunes the listener.
type HTTPConfig struct {
	ReadTimeout  Duration `toml:"read_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
	IdleTimeout  Duration `toml:"idle_timeout"`
	// ShutdownTimeout is how long after SIGTERM in-flight requests may
	// run; the drain counts in it.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// Drain is how long after SIGTERM the listener stays open with
	// /readyz answering 503, so that a load balancer notices before new
	// connections are refused: set it to the health check's period.
	Drain       Duration `toml:"drain"`
	Concurrency int      `toml:"concurrency"`
	// MaxHeaderSize bounds a request's line and headers (431 past it);
	// every open connection keeps a read buffer of this size.
	MaxHeaderSize Size `toml:"max_header_size"`
	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-Proto, -Host and -For are believed; empty: nobody's.
	// MCR_HTTP_TRUSTED_PROXIES takes a comma-separated list.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// UploadsConfig bounds the worker pool that streams blob uploads to disk.
type UploadsConfig struct {
	// Workers is how many uploads are written at once.
	Workers int `toml:"workers"`
	// Queue is how many more may wait for a worker before the registry
	// answers 429.
	Queue int `toml:"queue"`
	// IdleTimeout cuts off a request whose body makes no progress this
	// long; the bytes an upload had acknowledged stay.
	IdleTimeout Duration `toml:"idle_timeout"`
	// PerAccount bounds the uploads one account (one address, for
	// anonymous pushes) streams at once; past it, 429. 0 is no bound.
	PerAccount int `toml:"per_account"`
}

// ManifestConfig sets manifest validation.
type ManifestConfig struct {
	// AllowSparse accepts manifests that name blobs or child manifests the
	// repository does not hold.
	AllowSparse bool `toml:"allow_sparse"`
}

// Duration is a time.Duration written as "30s" in TOML and env vars.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration the way people do: 30m, 168h, 1h30m.
func (d Duration) MarshalText() ([]byte, error) {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return []byte(s), nil
}

// Defaults is the configuration with no file, no env and no flags: the
// embedded single-machine setup.
func Defaults() Config {
	return Config{
		Addr: "127.0.0.1:5000",
		Data: "./mcr-data",
		Log:  LogConfig{Level: "info", Format: logAuto},
		HTTP: HTTPConfig{
			ReadTimeout:     Duration{30 * time.Minute},
			WriteTimeout:    Duration{30 * time.Minute},
			IdleTimeout:     Duration{2 * time.Minute},
			ShutdownTimeout: Duration{30 * time.Second},
			Concurrency:     16384,
			MaxHeaderSize:   Size{server.DefaultMaxHeaderBytes},
		},
		TLS: defaultTLS(),
		Auth: AuthConfig{
			Mode:          "builtin",
			Service:       "mcr",
			TokenTTL:      Duration{5 * time.Minute},
			RefreshTTL:    Duration{7 * 24 * time.Hour},
			LoginCacheTTL: Duration{30 * time.Second},
			AdminUser:     "admin",
			MCIAS:         MCIASConfig{Timeout: Duration{10 * time.Second}},
		},
		Uploads: UploadsConfig{Workers: 128, Queue: 4096, IdleTimeout: Duration{time.Minute}, PerAccount: 16},
		UI:      UIConfig{Enabled: true, SessionTTL: Duration{12 * time.Hour}},
		GC:      defaultGC(),
		Jobs:    defaultJobs(),
		Audit:   defaultAudit(),
		Memory:  MemoryConfig{Limit: Size{defaultMemoryLimit}},
		Storage: StorageConfig{
			Sync:          syncGroup,
			MinFree:       ByteFloor{defaultMinFree},
			MinFreeInodes: InodeFloor{defaultMinFreeInodes},
			Reserve:       Size{defaultReserve},
			Backend:       backendFS,
			S3:            S3Config{PartSize: Size{16 << 20}, Redirect: true},
		},

		Metadata: MetadataConfig{Backend: backendBadger, Postgres: PostgresConfig{IdleTxnTimeout: Duration{time.Minute}}},
	}
}

// Load builds the configuration from defaults, the optional TOML file and
// the environment. Its error lists every problem of the file and the
// variables, one per line.
func Load(path string, environ []string) (Config, error) {
	c := Defaults()
	var errs []error
	if path != "" {
		if err := decodeFile(path, &c); err != nil {
			errs = append(errs, prefixErrors("config "+path+": ", err)...)
		}
	}
	errs = append(errs, applyEnv(&c, envMap(environ))...)
	return c, errors.Join(errs...)
}

// prefixErrors prefixes each error of a joined error.
func prefixErrors(prefix string, err error) []error {
	list := splitErrors(err)
	for i, e := range list {
		list[i] = fmt.Errorf("%s%w", prefix, e)
	}
	return list
}

// splitErrors lists the errors that errors.Join joined into err.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return append([]error(nil), j.Unwrap()...)
	}
	return []error{err}
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MCR_") {
			m[k] = v
		}
	}
	return m
}

// applyEnv sets every key whose MCR_* variable is present; a new key gets
// its variable for free.
func applyEnv(c *Config, env map[string]string) []error {
	var errs []error
	for _, k := range configKeys(reflect.ValueOf(c).Elem()) {
		s, ok := env[k.Env()]
		if !ok {
			continue
		}
		// Into a fresh value: a value that fails leaves the file's or
		// the default.
		v := reflect.New(k.Value.Type()).Elem()
		if err := setField(v, s); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", k.Env(), s, err))
			continue
		}
		k.Value.Set(v)
	}
	return errs
}

// unknownEnv lists the MCR_* variables of environ that set nothing: a
// typo there would otherwise go unnoticed, while the same typo in the file
// stops the server.
func unknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, k := range configKeys(reflect.ValueOf(&Config{}).Elem()) {
		known[k.Env()] = true
	}
	var unknown []string
	for name := range envMap(environ) {
		if !known[name] && !otherEnv[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown
}

// warnUnknownEnv logs the MCR_* variables of environ that set nothing.
func warnUnknownEnv(environ []string, log zerolog.Logger) {
	if u := unknownEnv(environ); len(u) > 0 {
		log.Warn().Strs("variables", u).Msg("unknown MCR_* environment variables are ignored; `mcrsrv config default` lists every key")
	}
}

func setField(fv reflect.Value, s string) error {
	switch p := fv.Addr().Interface().(type) {
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		*p = b
	case *[]string: // comma-separated
		*p = nil
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				*p = append(*p, e)
			}
		}
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		*p = n
	case *float64: // gc.duty
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*p = f
	case encoding.TextUnmarshaler: // Duration, Size, ByteFloor, InodeFloor
		return p.UnmarshalText([]byte(s))
	default:
		return fmt.Errorf("unsupported config field type %s", fv.Type())
	}
	return nil
}

// proxies is http.trusted_proxies parsed; Validate has reported any entry
// it cannot read, so a validated configuration never loses one here.
func (c Config) proxies() forwarded.Trust {
	t, _ := forwarded.Parse(c.HTTP.TrustedProxies)
	return t
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: must name a directory"))
	}
	if _, err := zerolog.ParseLevel(c.Log.Level); err != nil || c.Log.Level == "" {
		errs = append(errs, fmt.Errorf("log.level %q: want trace, debug, info, warn or error", c.Log.Level))
	}
	if c.Log.Format != logAuto && c.Log.Format != logJSON && c.Log.Format != logConsole {
		errs = append(errs, fmt.Errorf("log.format %q: want auto, json or console", c.Log.Format))
	}
	for name, d := range map[string]Duration{
		"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout,
		"http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout,
		"uploads.idle_timeout": c.Uploads.IdleTimeout,
		"ui.session_ttl":       c.UI.SessionTTL,
	} {
		if d.Duration <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", name))
		}
	}
	if c.Uploads.Workers <= 0 || c.Uploads.Queue < 0 || c.Uploads.PerAccount < 0 {
		errs = append(errs, errors.New("uploads.workers must be positive, uploads.queue and uploads.per_account non-negative"))
	}
	if c.HTTP.Drain.Duration < 0 || c.HTTP.Drain.Duration >= c.HTTP.ShutdownTimeout.Duration {
		errs = append(errs, fmt.Errorf("http.drain %s: must be at least 0 and shorter than http.shutdown_timeout %s", c.HTTP.Drain, c.HTTP.ShutdownTimeout))
	}
	if c.HTTP.Concurrency <= 0 {
		errs = append(errs, errors.New("http.concurrency: must be positive"))
	}
	if b := c.HTTP.MaxHeaderSize.Bytes; b < minHeaderSize || b > maxHeaderSize {
		errs = append(errs, fmt.Errorf("http.max_header_size %d bytes: want 4KiB to 1MiB", b))
	}
	if _, err := forwarded.Parse(c.HTTP.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("http.trusted_proxies: %w", err))
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.GRPC.validate()...)
	errs = append(errs, c.Auth.validate()...)
	errs = append(errs, c.GC.validate()...)
	errs = append(errs, c.Jobs.validate()...)
	errs = append(errs, c.Audit.validate()...)
	errs = append(errs, c.Memory.validate()...)
	errs = append(errs, c.Storage.validate()...)
	errs = append(errs, c.Metadata.validate()...)
	return errors.Join(errs...)
}

// logger builds the process logger from the config.
func (c Config) logger() zerolog.Logger { return c.Log.logger(os.Stderr) }

// logger builds a logger writing to out: console lines (coloured) only when
// asked or when out is a terminal, JSON otherwise.
func (l LogConfig) logger(out *os.File) zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(l.Level)
	var zl zerolog.Logger
	if l.Format == logConsole || (l.Format == logAuto && isatty.IsTerminal(out.Fd())) {
		zl = zerolog.New(zerolog.ConsoleWriter{Out: out, TimeFormat: time.RFC3339})
	} else {
		zl = zerolog.New(out)
	}
	return zl.Level(lvl).With().Timestamp().Logger()
}

// configFlags are the --config and --data flags of every command that
// works on a data directory, followed by its own flags.
func configFlags(configUsage string, extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Usage: configUsage + " (env MCR_CONFIG)", Sources: cli.EnvVars("MCR_CONFIG")},
		&cli.StringFlag{Name: "data", Usage: "data directory (overrides config and MCR_DATA)"},
	}, extra...)
}

// configAction is the Action of a command that works on a configuration:
// cmd's (commandConfig), with the command's own flags applied by
// override (nil: it has none), valid.
func configAction(override func(*cli.Command, *Config), run func(context.Context, *cli.Command, Config) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		c, err := validConfig(cmd, override)
		if err != nil {
			return err
		}
		return run(ctx, cmd, c)
	}
}

// validConfig is commandConfig with override applied (when not nil), then
// validated.
func validConfig(cmd *cli.Command, override func(*cli.Command, *Config)) (Config, error) {
	c, err := commandConfig(cmd)
	if err != nil {
		return c, err
	}
	if override != nil {
		override(cmd, &c)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return c, nil
}

// commandConfig loads cmd's configuration: defaults, the --config file,
// MCR_* variables, then --data.
func commandConfig(cmd *cli.Command) (Config, error) {
	c, err := Load(cmd.String("config"), os.Environ())
	if err != nil {
		return c, err
	}
	if cmd.IsSet("data") {
		c.Data = cmd.String("data")
	}
	return c, nil
}
