package names

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

func TestRepo(t *testing.T) {
	valid := []string{
		"a", "library/ubuntu", "a/b/c/d", "foo.bar", "foo_bar", "foo__bar", "foo---bar",
		"my-host.com/team/app", "0", strings.Repeat("a", MaxRepoLength),
	}
	invalid := []string{
		"", "A", "Library/ubuntu", "a//b", "/a", "a/", "-a", "a-", "a.", "a..b", "a___b",
		"localhost:5000/app", "[::1]/app", "a b", "a@b", "a/../b", "../a", "a/./b",
		strings.Repeat("a", MaxRepoLength+1), "é",
	}
	for _, n := range valid {
		if err := Repo(n); err != nil {
			t.Errorf("Repo(%q) = %v, want valid", n, err)
		}
	}
	for _, n := range invalid {
		err := Repo(n)
		if errcode.KindOf(err) != errcode.NameInvalid {
			t.Errorf("Repo(%q) = %v, want NAME_INVALID", n, err)
		}
	}
}

func TestTag(t *testing.T) {
	for _, tag := range []string{"latest", "v1.2.3", "_x", "A-b_c.d", strings.Repeat("t", 128)} {
		if err := Tag(tag); err != nil {
			t.Errorf("Tag(%q) = %v", tag, err)
		}
	}
	for _, tag := range []string{"", ".x", "-x", "a:b", "a/b", strings.Repeat("t", 129), "a b"} {
		if Tag(tag) == nil {
			t.Errorf("Tag(%q) accepted", tag)
		}
	}
}

func TestDigest(t *testing.T) {
	good := []string{
		"sha256:" + strings.Repeat("a", 64),
		"sha512:" + strings.Repeat("0", 128),
	}
	bad := []string{
		"", "sha256", "sha256:", "sha256:" + strings.Repeat("a", 63), "sha256:" + strings.Repeat("A", 64),
		"sha384:" + strings.Repeat("a", 96), "md5:" + strings.Repeat("a", 32), "sha256:baddigeststring",
		"sha256:" + strings.Repeat("a", 63) + "/", "sha256:../../etc/passwd",
	}
	for _, s := range good {
		if _, err := Digest(s); err != nil {
			t.Errorf("Digest(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if _, err := Digest(s); errcode.KindOf(err) != errcode.DigestInvalid {
			t.Errorf("Digest(%q) = %v, want DIGEST_INVALID", s, err)
		}
	}
}

func TestParseReference(t *testing.T) {
	r, err := ParseReference("v1")
	if err != nil || r.IsDigest() || r.Tag != "v1" || r.String() != "v1" {
		t.Errorf("tag: %+v %v", r, err)
	}
	d := "sha256:" + strings.Repeat("b", 64)
	r, err = ParseReference(d)
	if err != nil || !r.IsDigest() || r.String() != d {
		t.Errorf("digest: %+v %v", r, err)
	}
	if _, err := ParseReference("sha256:nothex"); errcode.KindOf(err) != errcode.DigestInvalid {
		t.Errorf("bad digest reference: %v", err)
	}
	if _, err := ParseReference("-bad"); err == nil {
		t.Error("bad tag reference accepted")
	}
}

// anchoredName is the grammar as distribution/reference writes it, which
// repoGrammar must match exactly, less the host part Repo refuses.
var anchoredName = regexp.MustCompile(`^` + reference.NameRegexp.String() + `$`)

func FuzzRepo(f *testing.F) {
	for _, s := range []string{"a/b", "A", "a..b", "x:1/y", "a__b-c.d/e---f", "a___b", "a_-b", "a/-b", "a.-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := Repo(s) == nil
		if ok && (strings.Contains(s, "@") || strings.Contains(s, "..") || strings.HasPrefix(s, "/")) {
			t.Fatalf("accepted %q", s)
		}
		want := len(s) <= MaxRepoLength && !strings.ContainsAny(s, ":[]") && strings.ToLower(s) == s && anchoredName.MatchString(s)
		if ok != want {
			t.Fatalf("Repo(%q) valid = %v, the regular expression says %v", s, ok, want)
		}
	})
}

// BenchmarkRepo is Repo on a typical name, and the regular expression it
// replaced on the same name.
func BenchmarkRepo(b *testing.B) {
	const name = "team-a/project_x/app.server"
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if Repo(name) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			if !anchoredName.MatchString(name) {
				b.Fatal("refused")
			}
		}
	})
}

var anchoredTag = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)

func FuzzTag(f *testing.F) {
	for _, s := range []string{"latest", "v1.2.3", "_x", ".x", "-x", "a:b", "A-b_c.d", strings.Repeat("t", 129), "é", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ok, want := Tag(s) == nil, anchoredTag.MatchString(s); ok != want {
			t.Fatalf("Tag(%q) valid = %v, the regular expression says %v", s, ok, want)
		}
	})
}

// parseDigest is Digest without its scan: go-digest's parse alone.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err == nil {
		if _, ok := algorithms[d.Algorithm()]; !ok {
			err = digest.ErrDigestUnsupported
		}
	}
	return d, err
}

func FuzzDigest(f *testing.F) {
	for _, s := range []string{
		"sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128), "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63), "sha384:" + strings.Repeat("a", 96), "sha256", ":", "sha256:" + strings.Repeat("g", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Digest(s)
		want, werr := parseDigest(s)
		if (err == nil) != (werr == nil) || err == nil && got != want {
			t.Fatalf("Digest(%q) = %q, %v; go-digest says %q, %v", s, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, werr) {
			t.Fatalf("Digest(%q) error %v, go-digest's is %v", s, err, werr)
		}
	})
}

func BenchmarkParseReference(b *testing.B) {
	for _, ref := range []string{"v1.2.3", "sha256:" + strings.Repeat("b", 64)} {
		b.Run(ref[:6], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseReference(ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
