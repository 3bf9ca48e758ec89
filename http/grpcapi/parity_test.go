package grpcapi

import (
	"sort"
	"strings"
	"testing"

	"github.com/fasthttp/router"

	"git.wntrmute.dev/kyle/mcr/http/adminapi"
)

// restToRPC pairs every operation of the REST API with its RPC. The
// repository routes are one catch-all route in the router, dispatched by
// adminapi's repository handler: its operations are listed under it.
var restToRPC = map[string]string{
	"GET /api/v1/status": "/mcr.v1.RegistryService/GetStatus",

	"GET /api/v1/repositories":                                    "/mcr.v1.RegistryService/ListRepositories",
	"GET /api/v1/repositories/{path:*} <name>":                    "/mcr.v1.RegistryService/GetRepository",
	"DELETE /api/v1/repositories/{path:*} <name>":                 "/mcr.v1.RegistryService/DeleteRepository",
	"GET /api/v1/repositories/{path:*} <name>/-/tags":             "/mcr.v1.RegistryService/ListTags",
	"GET /api/v1/repositories/{path:*} <name>/-/tags/<tag>":       "/mcr.v1.RegistryService/GetTag",
	"DELETE /api/v1/repositories/{path:*} <name>/-/tags/<tag>":    "/mcr.v1.RegistryService/DeleteTag",
	"GET /api/v1/repositories/{path:*} <name>/-/manifests":        "/mcr.v1.RegistryService/ListManifests",
	"GET /api/v1/repositories/{path:*} <name>/-/manifests/<ref>":  "/mcr.v1.RegistryService/GetManifest",
	"DELETE /api/v1/repositories/{path:*} <name>/-/manifests/<d>": "/mcr.v1.RegistryService/DeleteManifest",
	"GET /api/v1/uploads":                                         "/mcr.v1.RegistryService/ListUploads",
	"DELETE /api/v1/uploads/{id}":                                 "/mcr.v1.RegistryService/DeleteUpload",

	"GET /api/v1/jobs":          "/mcr.v1.JobService/ListJobs",
	"GET /api/v1/jobs/{kind:*}": "/mcr.v1.JobService/GetJob",
	"GET /api/v1/gc":            "/mcr.v1.JobService/GetGCStatus",
	"POST /api/v1/gc":           "/mcr.v1.JobService/RunGC",
	"GET /api/v1/gc/history":    "/mcr.v1.JobService/ListGCHistory",

	"GET /api/v1/policy/rules":               "/mcr.v1.PolicyService/ListRules",
	"POST /api/v1/policy/rules":              "/mcr.v1.PolicyService/CreateRule",
	"GET /api/v1/policy/rules/{id}":          "/mcr.v1.PolicyService/GetRule",
	"PUT /api/v1/policy/rules/{id}":          "/mcr.v1.PolicyService/ReplaceRule",
	"DELETE /api/v1/policy/rules/{id}":       "/mcr.v1.PolicyService/DeleteRule",
	"POST /api/v1/policy/rules/{id}/enable":  "/mcr.v1.PolicyService/EnableRule",
	"POST /api/v1/policy/rules/{id}/disable": "/mcr.v1.PolicyService/DisableRule",
	"POST /api/v1/policy/evaluate":           "/mcr.v1.PolicyService/TestPolicy",

	"GET /api/v1/accounts":                    "/mcr.v1.AccountService/ListAccounts",
	"POST /api/v1/accounts":                   "/mcr.v1.AccountService/CreateAccount",
	"GET /api/v1/accounts/{id}":               "/mcr.v1.AccountService/GetAccount",
	"DELETE /api/v1/accounts/{id}":            "/mcr.v1.AccountService/DeleteAccount",
	"POST /api/v1/accounts/{id}/enable":       "/mcr.v1.AccountService/EnableAccount",
	"POST /api/v1/accounts/{id}/disable":      "/mcr.v1.AccountService/DisableAccount",
	"PUT /api/v1/accounts/{id}/password":      "/mcr.v1.AccountService/SetPassword",
	"GET /api/v1/accounts/{id}/keys":          "/mcr.v1.AccountService/ListAccessKeys",
	"POST /api/v1/accounts/{id}/keys":         "/mcr.v1.AccountService/CreateAccessKey",
	"DELETE /api/v1/accounts/{id}/keys/{key}": "/mcr.v1.AccountService/RevokeAccessKey",
	"GET /api/v1/audit":                       "/mcr.v1.AuditService/QueryAudit",
	"GET /api/v1/audit <wait: the long poll>": "/mcr.v1.AuditService/FollowAudit",
	"GET /api/v1/audit/verify":                "/mcr.v1.AuditService/VerifyAudit",
	"POST /api/v1/snapshots":                  "/mcr.v1.SnapshotService/CreateSnapshot",
}

// restOnly are the REST routes that have no RPC, and why.
var restOnly = map[string]string{
	"GET /api/v1/debug/pprof/{name:*}": "the Go profiler speaks HTTP to go tool pprof",
}

// TestSurfaceParity walks the REST route table and the gRPC service
// descriptors: an operation on one side only fails it.
func TestSurfaceParity(t *testing.T) {
	r := router.New()
	adminapi.New(adminapi.Deps{}).Register(r)
	routes := map[string]bool{}
	for method, paths := range r.List() {
		for _, p := range paths {
			routes[method+" "+p] = true
		}
	}
	mapped := map[string]bool{} // router routes a mapping names
	rpcs := map[string]bool{}
	for op, rpc := range restToRPC {
		route, _, _ := strings.Cut(op, " <")
		if !routes[route] {
			t.Errorf("%q names no REST route", op)
		}
		mapped[route] = true
		rpcs[rpc] = true
	}
	var missing []string
	for route := range routes {
		if !mapped[route] && restOnly[route] == "" {
			missing = append(missing, route)
		}
	}
	for route := range restOnly {
		if !routes[route] {
			t.Errorf("restOnly names %q, which is no REST route", route)
		}
	}
	sort.Strings(missing)
	for _, route := range missing {
		t.Errorf("REST route %s has no RPC", route)
	}
	methods := map[string]bool{}
	for _, m := range mcrMethods(t) {
		methods[m] = true
		if !rpcs[m] {
			t.Errorf("RPC %s has no REST operation", m)
		}
	}
	for rpc := range rpcs {
		if !methods[rpc] {
			t.Errorf("the mapping names %s, which is no RPC", rpc)
		}
	}
}
