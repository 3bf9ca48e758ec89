package kv

// The keyspace. Every key mcr writes is built here and nowhere else.
//
//	v                              → schema version (uvarint)
//	b/<digest>                     → BlobRecord: the content exists in the blob store
//	i/<digest>@<repo>              → (empty) inverse of l/: which repositories link a blob
//	r/<repo>                       → RepoRecord: the repository exists
//	l/<repo>@<digest>              → (empty) the repository may serve this blob
//	m/<repo>@<digest>              → ManifestRecord, with the manifest bytes
//	t/<repo>@<tag>                 → manifest digest (string)
//	s/<repo>@<subject>@<digest>    → referrer descriptor (OCI descriptor JSON)
//	u/<upload-id>                  → UploadRecord: an open upload session
//
// '@' separates a repository from what follows it because neither the
// repository grammar nor the tag grammar allows it, and a digest never
// contains it: so the prefix "t/a@" holds exactly the tags of repository "a"
// and never those of "a/b". Byte order inside a prefix is the lexical order
// the distribution spec asks for in tag and catalog listings, so a page is a
// seek to the last key returned, not a scan.
//
// A change to this layout must bump SchemaVersion and come with a migration.

// SchemaVersion is the layout version written under the "v" key.
const SchemaVersion = 1

const sep = '@'

var (
	schemaKey    = []byte("v")
	blobNS       = "b/"
	inverseNS    = "i/"
	repoNS       = "r/"
	linkNS       = "l/"
	manifestNS   = "m/"
	tagNS        = "t/"
	referrerNS   = "s/"
	uploadNS     = "u/"
	blobPrefix   = []byte(blobNS)
	repoPrefix   = []byte(repoNS)
	uploadPrefix = []byte(uploadNS)
)

func join(ns string, parts ...string) []byte {
	n := len(ns)
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n)
	k = append(k, ns...)
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

// SchemaKey holds the layout version.
func SchemaKey() []byte { return schemaKey }

// BlobKey is the blob record of digest d.
func BlobKey(d string) []byte { return join(blobNS, d) }

// BlobPrefix covers every blob record.
func BlobPrefix() []byte { return blobPrefix }

// InverseLinkKey records that repo links blob d.
func InverseLinkKey(d, repo string) []byte { return join(inverseNS, d, repo) }

// InverseLinkPrefix covers the repositories that link blob d.
func InverseLinkPrefix(d string) []byte { return join(inverseNS, d, "") }

// RepoKey is the record of repository repo.
func RepoKey(repo string) []byte { return join(repoNS, repo) }

// RepoPrefix covers every repository record (the catalog).
func RepoPrefix() []byte { return repoPrefix }

// LinkKey records that repo may serve blob d.
func LinkKey(repo, d string) []byte { return join(linkNS, repo, d) }

// LinkPrefix covers the blobs linked into repo.
func LinkPrefix(repo string) []byte { return join(linkNS, repo, "") }

// ManifestKey is the manifest record d of repo.
func ManifestKey(repo, d string) []byte { return join(manifestNS, repo, d) }

// ManifestPrefix covers the manifests of repo.
func ManifestPrefix(repo string) []byte { return join(manifestNS, repo, "") }

// TagKey is tag of repo.
func TagKey(repo, tag string) []byte { return join(tagNS, repo, tag) }

// TagPrefix covers the tags of repo.
func TagPrefix(repo string) []byte { return join(tagNS, repo, "") }

// ReferrerKey records that manifest d of repo refers to subject.
func ReferrerKey(repo, subject, d string) []byte { return join(referrerNS, repo, subject, d) }

// ReferrerPrefix covers the referrers of subject in repo.
func ReferrerPrefix(repo, subject string) []byte { return join(referrerNS, repo, subject, "") }

// UploadKey is the session record of upload id.
func UploadKey(id string) []byte { return join(uploadNS, id) }

// UploadPrefix covers every upload session.
func UploadPrefix() []byte { return uploadPrefix }

// Suffix returns what follows prefix in key: the tag of a TagKey under
// TagPrefix, the repository of a RepoKey under RepoPrefix, and so on. The
// result is a copy, safe to keep after a Scan callback returns.
func Suffix(key, prefix []byte) string { return string(key[len(prefix):]) }
