// Package names validates the identifiers of the distribution API:
// repository names, tags, digests and the references that are one of the
// last two. It owns the grammar; everything else trusts a value that passed
// through here.
package names

import (
	"crypto"
	_ "crypto/sha256" // register the algorithms go-digest may use
	_ "crypto/sha512"
	"strings"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/errcode"
)

// MaxRepoLength bounds a repository name. The distribution spec suggests
// that the name together with the host fit in 255 characters; the name
// alone gets that budget here.
const MaxRepoLength = 255

// Repo checks a repository name against the OCI grammar
//
//	[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//
// distribution/reference's name grammar also allows a leading registry
// host (with upper case, a port or an IPv6 literal); inside a registry the
// whole name is the path, so those extras are refused here. Every request
// on /v2/<name>/ checks its name: a scan by hand costs a tenth of the
// regular expression's backtracking (FuzzRepo holds the two equal).
func Repo(name string) error {
	if len(name) > MaxRepoLength || !repoGrammar(name) {
		return errcode.New(errcode.NameInvalid, "invalid repository name").WithDetail(map[string]string{"name": name})
	}
	return nil
}

// repoGrammar reports whether s matches the grammar above: components of
// lower-case letters and digits, joined within a component by one '.',
// one or two '_' or any number of '-', and to each other by '/'.
func repoGrammar(s string) bool {
	i := 0
	alnums := func() bool { // one or more [a-z0-9] at i
		start := i
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		return i > start
	}
	for {
		if !alnums() {
			return false
		}
		for i < len(s) && s[i] != '/' {
			switch s[i] {
			case '.':
				i++
			case '_':
				i++
				if i < len(s) && s[i] == '_' {
					i++
				}
			case '-':
				for i < len(s) && s[i] == '-' {
					i++
				}
			default:
				return false
			}
			if !alnums() {
				return false
			}
		}
		if i == len(s) {
			return true
		}
		i++ // the '/'
	}
}

// maxTagLength bounds a tag (the distribution spec's tag grammar).
const maxTagLength = 128

// Tag checks a tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, the grammar of
// the distribution spec (reference.TagRegexp), by a scan: every pull by
// tag checks one, and the expression cost a pull more than its tag
// lookup (FuzzTag keeps the two equal).
func Tag(tag string) error {
	if !tagGrammar(tag) {
		return errcode.New(errcode.ManifestInvalid, "invalid tag").WithDetail(map[string]string{"tag": tag})
	}
	return nil
}

func tagGrammar(s string) bool {
	if s == "" || len(s) > maxTagLength || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(isLowerHex(c) || c >= 'g' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// algorithms are the digest algorithms the distribution spec allows.
var algorithms = map[digest.Algorithm]crypto.Hash{
	digest.SHA256: crypto.SHA256,
	digest.SHA512: crypto.SHA512,
}

// Digest parses and validates a digest string of an allowed algorithm.
// A well-formed digest, what every client sends, is recognised by a scan;
// anything else goes through go-digest, whose error says what is wrong
// (FuzzDigest keeps the two equal).
func Digest(s string) (digest.Digest, error) {
	if canonicalDigest(s) {
		return digest.Digest(s), nil
	}
	d, err := digest.Parse(s)
	if err == nil {
		if _, ok := algorithms[d.Algorithm()]; !ok {
			err = digest.ErrDigestUnsupported
		}
	}
	if err != nil {
		return "", errcode.Wrap(errcode.DigestInvalid, err, "invalid digest").WithDetail(map[string]string{"digest": s})
	}
	return d, nil
}

// canonicalDigest reports whether s is sha256:<64 lower hex> or
// sha512:<128 lower hex>, the digests go-digest accepts for them.
func canonicalDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch {
	case alg == string(digest.SHA256) && len(hex) == 64:
	case alg == string(digest.SHA512) && len(hex) == 128:
	default:
		return false
	}
	for i := range len(hex) {
		if !isLowerHex(hex[i]) {
			return false
		}
	}
	return true
}

// Reference is a manifest reference: a tag or a digest, never both.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// IsDigest reports whether the reference names content rather than a tag.
func (r Reference) IsDigest() bool { return r.Digest != "" }

func (r Reference) String() string {
	if r.IsDigest() {
		return r.Digest.String()
	}
	return r.Tag
}

// ParseReference parses the <reference> of /v2/<name>/manifests/<reference>.
// Anything with a ':' is a digest (tags cannot contain one).
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := Digest(s)
		return Reference{Digest: d}, err
	}
	if err := Tag(s); err != nil {
		return Reference{}, err
	}
	return Reference{Tag: s}, nil
}
