package servertest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/audit/audittest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest/clock"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/identity/mcias"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/forwarded"
	"git.wntrmute.dev/kyle/mcr/jobs"
)

// Service is the token service name the harness's identity service
// issues tokens for.
const Service = "registry.test"

// Setup says how authentication and the admin services are set up.
type Setup struct {
	Mode   auth.Mode // "" is auth.ModeBuiltin
	MCIAS  *mcias.Client
	Limits auth.Limits
	// Admin adds a real audit journal (teed with Events), a job runner
	// with the GC jobs registered, and the admin API.
	Admin      bool
	AuditPulls bool
	Proxies    forwarded.Trust
}

// Services are the identity, policy, audit, job and admin services of a
// registry, assembled as mcrsrv serve assembles them.
type Services struct {
	IDs    *identity.Service
	Policy *policy.Engine
	// Events is every audit event, in memory, for assertions; Audit is
	// what the services record to (Events, teed with Journal under Admin).
	Events *audittest.Recorder
	Audit  audit.Recorder
	Clock  *clock.Clock
	Auth   *auth.Auth
	// With Setup.Admin:
	Journal *audit.Journal
	Runner  *jobs.Runner
	GC      *gc.Collector
	Admin   *adminapi.API

	t      testing.TB
	stores *enginetest.Stores
	reg    *engine.Registry
}

// NewServices assembles the services over the stores and the engine; they
// stop when the test ends, before the engine and the stores.
func NewServices(t testing.TB, s *enginetest.Stores, reg *engine.Registry, c Setup) *Services {
	t.Helper()
	if c.Mode == "" {
		c.Mode = auth.ModeBuiltin
	}
	ctx := context.Background()
	sv := &Services{Events: &audittest.Recorder{}, Clock: clock.At(time.Now()), t: t, stores: s, reg: reg}
	var err error
	sv.IDs, err = identity.New(ctx, s.KV, identity.Options{
		Service: Service, Hash: identity.HashParams{Time: 1, Memory: 64, Threads: 1}, Now: sv.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sv.Policy, err = policy.NewEngine(ctx, s.KV, nil); err != nil {
		t.Fatal(err)
	}
	sv.Audit = sv.Events
	if c.Admin {
		sv.Journal = audit.Open(s.KV, audit.Options{})
		sv.Audit = audit.Tee{sv.Journal, sv.Events}
		sv.GC = gc.New(s.KV, s.Blobs, reg, gc.Options{Grace: time.Hour, UploadExpiry: time.Hour, Workers: 2})
		sv.Runner = jobs.NewRunner(jobs.Options{Workers: 2, Store: gc.NewStatusStore(s.KV, nil)})
		for _, j := range sv.GC.Jobs(gc.Schedule{}) {
			if err := sv.Runner.Register(j); err != nil {
				t.Fatal(err)
			}
		}
		if err := sv.Runner.RegisterFamily(sv.GC.RepoDeletions()); err != nil {
			t.Fatal(err)
		}
		if err := sv.Runner.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := sv.Runner.Stop(ctx); err != nil {
				t.Error(err)
			}
			if err := sv.Journal.Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	sv.Policy.WithAudit(sv.Audit)
	sv.Auth = auth.New(auth.Options{Mode: c.Mode, Identity: sv.IDs, MCIAS: c.MCIAS, Policy: sv.Policy, Audit: sv.Audit,
		Limits: c.Limits, Now: sv.Clock.Now, AuditPulls: c.AuditPulls, Proxies: c.Proxies})
	if c.Admin {
		sv.Admin = adminapi.New(adminapi.Deps{Deps: sv.AdminDeps(), Authorizer: sv.Auth})
	}
	return sv
}

// AdminDeps are the admin service's dependencies (Setup.Admin).
func (sv *Services) AdminDeps() adminsvc.Deps {
	return adminsvc.Deps{
		Registry: sv.reg, Jobs: sv.Runner, Identity: sv.IDs, Policy: sv.Policy, Journal: sv.Journal, Audit: sv.Audit,
		Snapshot: func(ctx context.Context, dir string) (*snapshot.Manifest, error) {
			return snapshot.Create(ctx, sv.stores.KV, sv.stores.Blobs, dir)
		},
		SnapshotDir: filepath.Join(sv.stores.Dir, "snapshots"),
		Version:     "test", Started: time.Now(),
	}
}

// Account creates an account whose password is its name + "-password".
func (sv *Services) Account(name, typ string, roles ...string) identity.Account {
	sv.t.Helper()
	a, err := sv.IDs.CreateAccount(context.Background(), identity.NewAccount{Name: name, Type: typ, Roles: roles, Password: Password(name)})
	if err != nil {
		sv.t.Fatal(err)
	}
	return a
}

// Password is the password Account gives name.
func Password(name string) string { return name + "-password" }

// Rule stores an enabled rule (effect allow unless it says otherwise).
func (sv *Services) Rule(r policy.Rule) {
	sv.t.Helper()
	r.Enabled = true
	if r.Effect == "" {
		r.Effect = policy.Allow
	}
	if err := sv.Policy.Put(context.Background(), r); err != nil {
		sv.t.Fatal(err)
	}
}
