package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/cmd/internal/buildinfo"
	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/diskspace"
	"git.wntrmute.dev/kyle/mcr/engine/errcode"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/server"
	"git.wntrmute.dev/kyle/mcr/http/ui"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the registry (embedded defaults: data in ./mcr-data, listen on 127.0.0.1:5000)",
		Flags: configFlags("TOML configuration file",
			&cli.StringFlag{Name: "addr", Usage: "listen address host:port (overrides config and MCR_ADDR)"},
			&cli.StringFlag{Name: "auth", Usage: "authentication mode: builtin, mcias or none (overrides auth.mode and MCR_AUTH_MODE; none is for local development only)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate chain: serve HTTPS (overrides tls.cert_file and MCR_TLS_CERT_FILE)"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key of --tls-cert (overrides tls.key_file and MCR_TLS_KEY_FILE)"},
		),
		Action: configAction(func(cmd *cli.Command, c *Config) {
			if cmd.IsSet("addr") {
				c.Addr = cmd.String("addr")
			}
			if cmd.IsSet("auth") {
				c.Auth.Mode = cmd.String("auth")
			}
			if cmd.IsSet("tls-cert") {
				c.TLS.CertFile = cmd.String("tls-cert")
			}
			if cmd.IsSet("tls-key") {
				c.TLS.KeyFile = cmd.String("tls-key")
			}
		}, func(ctx context.Context, _ *cli.Command, c Config) error { return serve(ctx, c) }),
	}
}

// badgerLogger forwards Badger's own messages at warning level and above.
type badgerLogger struct{ l zerolog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error().Msgf(f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn().Msgf(f, a...) }
func (b badgerLogger) Infof(string, ...any)        {}
func (b badgerLogger) Debugf(string, ...any)       {}

// serve binds the listener (with TLS loaded, when configured) before it
// creates anything and answers 503 on it while it opens the stores, serves until ctx ends
// (SIGINT/SIGTERM), then shuts down in order (drainAndStop): drain, stop
// accepting, let requests finish (bounded), stop the jobs and the actors,
// close Badger.
func serve(ctx context.Context, c Config) (err error) {
	log := c.logger()
	lctx, stopReload := context.WithCancel(ctx) // the certificate watcher ends with serve, on every return
	defer stopReload()
	ln, tlsCfg, err := listenTLS(lctx, c, log)
	if err != nil {
		return err
	}
	// Until the stores are open (PostgreSQL may take a while to answer)
	// the port answers 503 and /readyz says starting, instead of holding
	// connections nobody reads; Handoff passes it to the real server.
	starting := server.ServeStarting(ln)
	defer starting.Close() // on the early returns below; Serve closes it otherwise
	c.Memory.apply(log)
	warnLooseDirs(c.Data, log)
	warnUnknownEnv(os.Environ(), log)
	meta := c.barrierMetaDir()
	space, err := c.Storage.monitor(c.Data, meta, log)
	if err != nil {
		return err
	}
	if err := roomToOpen(space); err != nil {
		return err
	}
	barrier, err := c.Storage.barrier(c.Data, meta, log)
	if err != nil {
		return err
	}
	if barrier != nil {
		defer barrier.Close() // after the store: closing Badger writes through it
	}
	store, err := awaitMetadata(ctx, c, barrier != nil, log)
	if err != nil {
		return err
	}
	defer func() {
		if !canClose(space, log) {
			return
		}
		if cerr := closeStore(store, storeCloseTimeout); err == nil {
			err = cerr
		}
	}()
	blobs, err := c.Storage.openBlobs(c.Data, barrier)
	if err != nil {
		return err
	}
	journal, rec := openJournal(c, store, log)
	defer closeJournal(journal, rec, log) // after the listener and jobs stop, before the store closes
	authn, closeAuth, err := setupAuth(ctx, c, store, rec, log)
	if err != nil {
		return err
	}
	defer closeAuth()
	defer followPolicy(ctx, authn, log)()
	uploads := jobs.NewPool(c.Uploads.Workers, c.Uploads.Queue)
	defer uploads.Close() // after the listener is drained: no upload is in flight
	eopts := engine.Options{AllowSparse: c.Manifest.AllowSparse, Streamer: uploads}
	if space != nil {
		eopts.Space = space
		sctx, stopSpace := context.WithCancel(ctx)
		spaceDone := make(chan struct{})
		go func() { defer close(spaceDone); space.Run(sctx) }()
		defer func() { stopSpace(); <-spaceDone }()
	}
	reg := engine.New(store, blobs, eopts)
	bg, err := startJobs(ctx, c, store, blobs, reg, journal, log)
	if err != nil {
		return err
	}
	defer bg.stop(log) // idempotent: also runs on the early returns below
	admin := adminAPI(c, store, blobs, reg, bg, space, authn, journal, rec, log)
	srv := server.New(reg, log, server.Options{
		ReadTimeout:  c.HTTP.ReadTimeout.Duration,
		WriteTimeout: c.HTTP.WriteTimeout.Duration,
		IdleTimeout:  c.HTTP.IdleTimeout.Duration,
		Concurrency:  c.HTTP.Concurrency,
		// Validate keeps it between 4 KiB and 1 MiB.
		MaxHeaderBytes: int(c.HTTP.MaxHeaderSize.Bytes),
		Auth:           authn,

		Metrics:            newMetrics(store, reg, uploads, bg, space, auditStats(journal, rec)),
		MetricsRequireAuth: c.Metrics.RequireAuth,
		Ready:              readiness(store, c.Data, space, blobs),
		Admin:              admin,
		BodyIdleTimeout:    c.Uploads.IdleTimeout.Duration,
		UploadsPerCaller:   c.Uploads.PerAccount,
		Proxies:            c.proxies(),
		UI:                 webUI(c, store, blobs, reg, bg, authn, journal, rec, log),
	})
	gsrv, gln, err := grpcAPI(c, tlsCfg, admin.Service(), authn, log)
	if err != nil {
		return err
	}
	log.Info().Str("addr", ln.Addr().String()).Bool("tls", c.TLS.enabled()).Str("data", c.Data).Str("metadata", c.Metadata.Backend).Bool("allow_sparse", c.Manifest.AllowSparse).Str("auth", c.Auth.Mode).
		Str("version", buildinfo.String()).Msg("mcrsrv serving")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(starting.Handoff()) }()
	idle := time.NewTicker(idleCheck)
	ictx, stopIdle := context.WithCancel(ctx)
	idleDone := make(chan struct{})
	go func() {
		defer close(idleDone)
		releaseWhenIdle(ictx, idle.C, srv.Served, runtime.NumGoroutine, func() { releaseMemory(reg.DropCaches, bg.Collector.DropCache) })
	}()
	defer func() { stopIdle(); idle.Stop(); <-idleDone }()
	gerrc := make(chan error, 1)
	if gsrv != nil {
		log.Info().Str("grpc_addr", gln.Addr().String()).Bool("tls", tlsCfg != nil).Msg("gRPC admin API serving")
		go func() { gerrc <- gsrv.Serve(gln) }()
		gsrv.SetServing(true)
	}
	sdNotify("READY=1", log)
	select {
	case err := <-errc:
		if gsrv != nil {
			gsrv.Stop()
		}
		return err
	case err := <-gerrc:
		return fmt.Errorf("grpc: %w", err)
	case <-ctx.Done():
	}
	return drainAndStop(c, srv, gsrv, reg, bg, errc, log)
}

// adminAPI assembles the admin API over the running components. Accounts
// are managed through it only when they are mcr's own (builtin mode).
func adminAPI(c Config, store kv.Store, blobs blobstore.Store, reg *engine.Registry, bg *background,
	space *diskspace.Monitor, authn *auth.Auth, journal *audit.Journal, rec audit.Recorder, log zerolog.Logger) *adminapi.API {
	d := adminapi.Deps{Deps: adminsvc.Deps{
		Registry: reg, Jobs: bg.Runner, Journal: journal, Audit: rec,
		Snapshot:    snapshotFunc(store, blobs),
		SnapshotDir: snapshotDir(c.Data), MetadataBytes: metadataBytes(store),
		Leader:  bg.leader(c.Addr),
		Version: buildinfo.String(), Started: time.Now(),
	}, Log: log.With().Str("component", "adminapi").Logger()}
	if space != nil {
		d.Disk = space.Statuses
	}
	if authn != nil {
		d.Authorizer, d.Policy = authn, authn.Policy()
		if authn.Mode() == auth.ModeBuiltin {
			d.Identity = authn.Identity()
		}
	}
	return adminapi.New(d)
}

// webUI assembles the web UI over the same components as the admin API;
// nil when ui.enabled is off.
func webUI(c Config, store kv.Store, blobs blobstore.Store, reg *engine.Registry, bg *background,
	authn *auth.Auth, journal *audit.Journal, rec audit.Recorder, log zerolog.Logger) *ui.UI {
	if !c.UI.Enabled {
		return nil
	}
	d := ui.Deps{
		Registry: reg, Jobs: bg.Runner, Journal: journal, Audit: rec,
		Snapshot:    snapshotFunc(store, blobs),
		SnapshotDir: snapshotDir(c.Data), MetadataBytes: metadataBytes(store),
		Version: buildinfo.String(), Started: time.Now(), SessionTTL: c.UI.SessionTTL.Duration, Secure: c.TLS.enabled(),
		Log: log.With().Str("component", "ui").Logger(),
	}
	if authn != nil {
		d.Auth, d.Sessions, d.Policy = authn, authn.Identity(), authn.Policy()
		if authn.Mode() == auth.ModeBuiltin {
			d.Accounts = authn.Identity()
		}
	}
	return ui.New(d)
}

// snapshotFunc writes a snapshot of the running registry, when its
// metadata store can back itself up.
func snapshotFunc(store kv.Store, blobs blobstore.Store) func(context.Context, string) (*snapshot.Manifest, error) {
	return func(ctx context.Context, dir string) (*snapshot.Manifest, error) {
		b, ok := store.(kv.Backuper)
		if !ok {
			return nil, errcode.Wrap(errcode.Conflict, errNoBackup, "%v", errNoBackup)
		}
		return snapshot.Create(ctx, b, blobs, dir)
	}
}

// metadataBytes reports the metadata store's size on disk.
func metadataBytes(store kv.Store) func() int64 {
	return func() int64 { return metadataUsage(store).Total() }
}

// snapshotDir is where snapshots named by a relative path go: absolute, so
// the API's answer names the directory whatever the server's working
// directory.
func snapshotDir(data string) string {
	dir := filepath.Join(data, "snapshots")
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
