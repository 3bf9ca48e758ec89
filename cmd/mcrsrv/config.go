package main

import (
	"encoding"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/forwarded"
)

// Config is mcrsrv's configuration: defaults, then the TOML file, then
// MCR_* environment variables, then command-line flags. Every key has an
// environment variable named after its TOML path: http.read_timeout is
// MCR_HTTP_READ_TIMEOUT.
type Config struct {
	Addr     string         `toml:"addr"`
	Data     string         `toml:"data"`
	Log      LogConfig      `toml:"log"`
	HTTP     HTTPConfig     `toml:"http"`
	TLS      TLSConfig      `toml:"tls"`
	Manifest ManifestConfig `toml:"manifest"`
	Uploads  UploadsConfig  `toml:"uploads"`
	Auth     AuthConfig     `toml:"auth"`
	GC       GCConfig       `toml:"gc"`
	Jobs     JobsConfig     `toml:"jobs"`
	Audit    AuditConfig    `toml:"audit"`
	Metrics  MetricsConfig  `toml:"metrics"`
	Memory   MemoryConfig   `toml:"memory"`
	Storage  StorageConfig  `toml:"storage"`
}

// MetricsConfig sets the Prometheus endpoint (docs/operations.md).
type MetricsConfig struct {
	// RequireAuth puts /metrics behind authentication: the scraper needs
	// an account with the admin action. /healthz and /readyz stay open.
	RequireAuth bool `toml:"require_auth"`
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
	Level  string `toml:"level"`  // trace, debug, info, warn, error
	Format string `toml:"format"` // json or console
}

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
	d.Duration = v
	return err
}

// Defaults is the configuration with no file, no env and no flags: the
// embedded single-machine setup.
func Defaults() Config {
	return Config{
		Addr: "127.0.0.1:5000",
		Data: "./mcr-data",
		Log:  LogConfig{Level: "info", Format: "console"},
		HTTP: HTTPConfig{
			ReadTimeout:     Duration{30 * time.Minute},
			WriteTimeout:    Duration{30 * time.Minute},
			IdleTimeout:     Duration{2 * time.Minute},
			ShutdownTimeout: Duration{30 * time.Second},
			Concurrency:     16384,
		},
		TLS: defaultTLS(),
		Auth: AuthConfig{
			Mode:       "builtin",
			Service:    "mcr",
			TokenTTL:   Duration{5 * time.Minute},
			RefreshTTL: Duration{7 * 24 * time.Hour},
			AdminUser:  "admin",
			MCIAS:      MCIASConfig{Timeout: Duration{10 * time.Second}},
		},
		Uploads: UploadsConfig{Workers: 128, Queue: 4096, IdleTimeout: Duration{time.Minute}, PerAccount: 16},
		GC:      defaultGC(),
		Jobs:    defaultJobs(),
		Audit:   defaultAudit(),
		Memory:  MemoryConfig{Limit: Size{defaultMemoryLimit}},
		Storage: StorageConfig{Sync: syncGroup, Backend: backendFS, S3: S3Config{PartSize: Size{16 << 20}, Redirect: true}},
	}
}

// Load builds the configuration from defaults, the optional TOML file and
// the environment.
func Load(path string, environ []string) (Config, error) {
	c := Defaults()
	if path != "" {
		md, err := toml.DecodeFile(path, &c)
		if err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return c, fmt.Errorf("config %s: unknown keys %v", path, und)
		}
	}
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "MCR", envMap(environ)); err != nil {
		return c, err
	}
	return c, nil
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

// applyEnv sets every field whose MCR_* variable is present, walking the
// struct by its toml tags so that a new key gets its variable for free.
func applyEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + "_" + strings.ToUpper(f.Tag.Get("toml"))
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		s, ok := env[name]
		if !ok {
			continue
		}
		if err := setField(fv, s); err != nil {
			return fmt.Errorf("%s=%q: %w", name, s, err)
		}
	}
	return nil
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
	case encoding.TextUnmarshaler: // Duration, Size
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
	if c.Log.Format != "json" && c.Log.Format != "console" {
		errs = append(errs, fmt.Errorf("log.format %q: want json or console", c.Log.Format))
	}
	for name, d := range map[string]Duration{
		"http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout,
		"http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout,
		"uploads.idle_timeout": c.Uploads.IdleTimeout,
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
	if _, err := forwarded.Parse(c.HTTP.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("http.trusted_proxies: %w", err))
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.Auth.validate()...)
	errs = append(errs, c.GC.validate()...)
	errs = append(errs, c.Jobs.validate()...)
	errs = append(errs, c.Audit.validate()...)
	errs = append(errs, c.Memory.validate()...)
	errs = append(errs, c.Storage.validate()...)
	return errors.Join(errs...)
}

// logger builds the process logger from the config.
func (c Config) logger() zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(c.Log.Level)
	var l zerolog.Logger
	if c.Log.Format == "console" {
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339})
	} else {
		l = zerolog.New(os.Stderr)
	}
	return l.Level(lvl).With().Timestamp().Logger()
}

// configFlags are the --config and --data flags of every command that
// works on a data directory, followed by its own flags.
func configFlags(configUsage string, extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Usage: configUsage},
		&cli.StringFlag{Name: "data", Usage: "data directory (overrides config and MCR_DATA)"},
	}, extra...)
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
