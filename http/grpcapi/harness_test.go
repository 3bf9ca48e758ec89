package grpcapi_test

import (
	"context"
	"net"
	"testing"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/engine/audit"
	"git.wntrmute.dev/kyle/mcr/engine/enginetest"
	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
	"git.wntrmute.dev/kyle/mcr/http/adminsvc"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi/mcrv1"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// env is a registry with builtin auth, its gRPC API on a real loopback
// listener and a client connection to it.
type env struct {
	t *testing.T
	*servertest.Services
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
	stores := enginetest.Open(t, "")
	reg := servertest.NewEngine(t, stores, engine.Options{})
	sv := servertest.NewServices(t, stores, reg, servertest.Setup{Admin: true})
	dir, ids, pol, journal, authn := stores.Dir, sv.IDs, sv.Policy, sv.Journal, sv.Auth
	deps := sv.AdminDeps()
	deps.Leader = func(context.Context) (apiv1.Leader, error) {
		return apiv1.Leader{Replica: "host/127.0.0.1:5000", Term: 7, Self: true}, nil
	}
	svc := adminsvc.New(deps)
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
	})
	return &env{
		t: t, Services: sv, dir: dir, reg: reg, ids: ids, pol: pol, journal: journal, srv: srv, conn: conn,
		registry: mcrv1.NewRegistryServiceClient(conn), jobs: mcrv1.NewJobServiceClient(conn),
		policy: mcrv1.NewPolicyServiceClient(conn), accounts: mcrv1.NewAccountServiceClient(conn),
		audit: mcrv1.NewAuditServiceClient(conn), snapshot: mcrv1.NewSnapshotServiceClient(conn),
	}
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
	return servertest.Image(e.t, e.reg, repo, tag, map[string]string{"architecture": "amd64", "os": "linux"}, nil)
}
