package auth

import (
	"context"
	"strings"
	"testing"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/engine/policy"
)

func TestGrantIntersectsPolicy(t *testing.T) {
	pol, err := policy.NewEngine(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Auth{o: Options{Policy: pol}}
	human := identity.Principal{ID: "h", Name: "alice", Type: identity.Human}
	robot := identity.Principal{ID: "r", Name: "ci", Type: identity.System}
	cases := []struct {
		p      identity.Principal
		scopes []string
		want   string
	}{
		{human, []string{"repository:a/b:pull,push"}, "repository:a/b:pull,push"},
		{human, []string{"repository:a:*"}, "repository:a:pull,push,delete"},
		{human, []string{"repository:a:pull", "repository:a:push"}, "repository:a:pull,push"},
		{human, []string{"registry:catalog:*"}, "registry:catalog:*"},
		{human, []string{"repository:Bad Name:pull", "garbage", "repository:a:fly"}, ""},
		{robot, []string{"repository:a:pull", "registry:catalog:*"}, ""},
		{identity.Principal{}, []string{"repository:a:pull"}, ""},
	}
	for _, c := range cases {
		var got []string
		for _, g := range a.grant(c.p, c.scopes) {
			got = append(got, g.String())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("grant(%s, %v) = %v, want %q", c.p.Name, c.scopes, got, c.want)
		}
	}
}

func TestParseBasic(t *testing.T) {
	for in, ok := range map[string]bool{
		"YWxpY2U6cHc=": true,  // alice:pw
		"YWxpY2U6":     true,  // alice: (empty password)
		"OnB3":         false, // :pw
		"YWxpY2U=":     false, // no colon
		"!!":           false,
	} {
		if _, _, got := parseBasic([]byte(in)); got != ok {
			t.Errorf("parseBasic(%q) ok = %v", in, got)
		}
	}
	if u, p, _ := parseBasic([]byte("YTpiOmM=")); u != "a" || p != "b:c" {
		t.Errorf("password with a colon: %q %q", u, p)
	}
}
