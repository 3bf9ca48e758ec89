package grpcapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore"
	"git.wntrmute.dev/kyle/mcr/engine/blobstore/blobstoretest"
	"git.wntrmute.dev/kyle/mcr/engine/gc"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/names"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/engine/snapshot"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/auth"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
	"git.wntrmute.dev/kyle/mcr/jobs"
	"git.wntrmute.dev/kyle/mcr/kv"
)

// env is a registry with builtin auth, its gRPC API on a real loopback
// listener and a client connection to it.
type env struct {
	t        *testing.T
	dir      string
	reg      *engine.Registry
	ids      *identity.Service
	pol      *policy.Engine
	journal  *audit.Journal
	srv      *grpcapi.Server
	conn     *grpc.ClientConn
	registry mcrv1.RegistryServiceClient
	jobs     mcrv1.JobServiceClient
	policy   mcrv1.PolicyServiceClient
	accounts mcrv1.AccountServiceClient
	audit    mcrv1.AuditServiceClient
	snapshot mcrv1.SnapshotServiceClient
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	barrier := blobstoretest.Barrier(t, dir)
	store, err := kv.Open(kv.Options{Dir: filepath.Join(dir, "meta"), Barrier: barrier.Waiter()})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.Open(dir, barrier)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(ctx, store, identity.Options{Service: "mcr-test", Hash: identity.HashParams{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.NewEngine(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	journal := audit.Open(store, audit.Options{})
	pol.WithAudit(journal)
	authn := auth.New(auth.Options{Mode: auth.ModeBuiltin, Identity: ids, Policy: pol, Audit: journal})
	reg := engine.New(store, blobs, engine.Options{})
	col := gc.New(store, blobs, reg, gc.Options{Grace: time.Hour, UploadExpiry: time.Hour, Workers: 2})
	runner := jobs.NewRunner(jobs.Options{Workers: 2, Store: gc.NewStatusStore(store, nil)})
	for _, j := range col.Jobs(gc.Schedule{}) {
		if err := runner.Register(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svc := adminsvc.New(adminsvc.Deps{
		Registry: reg, Jobs: runner, GC: col, Identity: ids, Policy: pol, Journal: journal, Audit: journal,
		Snapshot: func(ctx context.Context, dir string) (*snapshot.Manifest, error) {
			return snapshot.Create(ctx, store, blobs, dir)
		},
		SnapshotDir: filepath.Join(dir, "snapshots"), Version: "test", Started: time.Now(),
		Leader: func(context.Context) (apiv1.Leader, error) {
			return apiv1.Leader{Replica: "host/127.0.0.1:5000", Term: 7, Self: true}, nil
		},
	})
	srv := grpcapi.New(grpcapi.Options{Service: svc, Auth: authn, Log: zerolog.Nop()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	srv.SetServing(true)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-served
		_ = runner.Stop(context.Background())
		_ = reg.Close(context.Background())
		_ = journal.Close(context.Background())
		store.Close()
		barrier.Close()
	})
	return &env{
		t: t, dir: dir, reg: reg, ids: ids, pol: pol, journal: journal, srv: srv, conn: conn,
		registry: mcrv1.NewRegistryServiceClient(conn), jobs: mcrv1.NewJobServiceClient(conn),
		policy: mcrv1.NewPolicyServiceClient(conn), accounts: mcrv1.NewAccountServiceClient(conn),
		audit: mcrv1.NewAuditServiceClient(conn), snapshot: mcrv1.NewSnapshotServiceClient(conn),
	}
}

// account creates an account whose password is its name + "-password".
func (e *env) account(name, typ string, roles ...string) identity.Account {
	e.t.Helper()
	a, err := e.ids.CreateAccount(context.Background(), identity.NewAccount{Name: name, Type: typ, Roles: roles, Password: name + "-password"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// token issues a bearer token for a with the admin API's scope.
func (e *env) token(a identity.Account) string {
	e.t.Helper()
	iss, err := e.ids.IssueToken(a.Principal(), []identity.Access{{Type: "registry", Name: "api", Actions: []string{"*"}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return "Bearer " + iss.Token
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// as is a context whose calls carry cred ("" for none).
func as(cred string) context.Context {
	if cred == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", cred)
}

// wantCode fails unless err is a status with code c and a message.
func wantCode(t *testing.T, what string, err error, c codes.Code) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != c || (c != codes.OK && st.Message() == "") {
		t.Errorf("%s: %v, want %s", what, err, c)
	}
}

// push stores a one-layer image in repo under tag and returns its
// manifest digest.
func (e *env) push(repo, tag string) string {
	e.t.Helper()
	ctx := context.Background()
	blob := func(b []byte) map[string]any {
		d := digest.FromBytes(b)
		if err := e.reg.PutBlob(ctx, repo, d, bytes.NewReader(b), int64(len(b))); err != nil {
			e.t.Fatal(err)
		}
		return map[string]any{"mediaType": "application/octet-stream", "digest": d.String(), "size": len(b)}
	}
	cfg := blob([]byte(`{"architecture":"amd64","os":"linux"}`))
	cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
	layer := blob([]byte("layer of " + repo + ":" + tag))
	layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": []any{layer},
	})
	res, err := e.reg.PutManifest(ctx, repo, names.Reference{Tag: tag}, "application/vnd.oci.image.manifest.v1+json", m, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Digest.String()
}
