package auth_test

import (
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
	"git.wntrmute.dev/kyle/mcr/http/servertest"
)

// TestAuthRealClient drives the whole Docker token dance with
// go-containerregistry's remote package, the library crane is built on:
// ping, 401 challenge, token request with Basic credentials, retry with the
// bearer token, and a fresh token when a push needs a wider scope.
func TestAuthRealClient(t *testing.T) {
	ar := servertest.Serve(t, servertest.Config{Auth: &servertest.Setup{}})
	ci := ar.Account("ci", identity.System)
	ar.Rule(policy.Rule{ID: "ci", Subject: policy.Subject{AccountID: ci.ID},
		Actions: []policy.Action{policy.Pull, policy.Push}, Repositories: []string{"ci/*"}})
	ar.Account("alice", identity.Human)

	ref := func(s string) name.Reference {
		r, err := name.ParseReference("registry.test/"+s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	as := func(user, pass string) remote.Option {
		return remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}))
	}
	tr := remote.WithTransport(ar.Client.Transport)
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	if err := remote.Write(ref("ci/app:v1"), img, tr, as("ci", "ci-password")); err != nil {
		t.Fatalf("push ci/app as ci: %v", err)
	}
	got, err := remote.Image(ref("ci/app:v1"), tr, as("ci", "ci-password"))
	if err != nil {
		t.Fatalf("pull ci/app as ci: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled %s, pushed %s", d, want)
	}
	if _, err := got.RawConfigFile(); err != nil {
		t.Errorf("config blob: %v", err)
	}

	// Denied outside ci/*: a 403 (the client's first request there is a
	// HEAD, whose DENIED body it cannot see), not a login failure.
	err = remote.Write(ref("prod/app:v1"), img, tr, as("ci", "ci-password"))
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != 403 {
		t.Errorf("push prod/app as ci: %v, want 403", err)
	}
	// Wrong password and anonymous are refused.
	if _, err := remote.Image(ref("ci/app:v1"), tr, as("ci", "nope")); err == nil {
		t.Error("pull with a wrong password succeeded")
	}
	if _, err := remote.Image(ref("ci/app:v1"), tr, remote.WithAuth(authn.Anonymous)); ociCode(err) != "UNAUTHORIZED" {
		t.Errorf("anonymous pull: %v", err)
	}
	// A human copies by cross-repository mount (pull on ci/app, push on
	// team/app) and lists the catalog.
	if err := remote.Write(ref("team/app:v1"), got, tr, as("alice", "alice-password")); err != nil {
		t.Fatalf("copy to team/app as alice: %v", err)
	}
	reg, _ := name.NewRegistry("registry.test", name.Insecure)
	repos, err := remote.Catalog(t.Context(), reg, tr, as("alice", "alice-password"))
	if err != nil || len(repos) != 2 {
		t.Errorf("catalog as alice: %v %v", repos, err)
	}
}

func ociCode(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return string(te.Errors[0].Code)
	}
	return ""
}
