package grpcapi

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// Every engine error kind's registered code is one gRPC knows, and only
// internal failures become Internal or Unknown: bad input never does.
func TestEveryKindMapped(t *testing.T) {
	for _, k := range errcode.Kinds() {
		c := codeOf[k]
		if internal := c == codes.Internal || c == codes.Unknown; internal != (k == errcode.Internal) {
			t.Errorf("%s (registered %q) maps to %s", k, k.Describe().GRPC, c)
		}
	}
}

// mcrMethods is every RPC of package mcr.v1, as "/mcr.v1.Service/Method".
func mcrMethods(t *testing.T) []string {
	t.Helper()
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage("mcr.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			s := f.Services().Get(i)
			for j := 0; j < s.Methods().Len(); j++ {
				out = append(out, "/"+string(s.FullName())+"/"+string(s.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("no mcr.v1 services registered")
	}
	return out
}

// Every RPC declares its action, and the table names no other method.
func TestEveryMethodHasAction(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range mcrMethods(t) {
		seen[m] = true
		if _, ok := actions[m]; !ok {
			t.Errorf("%s declares no action", m)
		}
	}
	for m := range actions {
		if !seen[m] {
			t.Errorf("actions names %s, which is no RPC", m)
		}
	}
}
