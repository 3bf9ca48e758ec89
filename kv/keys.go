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
//	a/i/<account-id>               → AccountRecord: a human or system account
//	a/n/<account-name>             → account id (names are unique)
//	a/f/<folded-account-name>      → account id: the name in lower case, so names are unique ignoring case
//	k/a/<access-key-id>            → AccessKeyRecord: a system account's access key (hashed)
//	k/s/<signing-key-id>           → SigningKeyRecord: a token signing key
//	p/<rule-id>                    → PolicyRecord: a policy rule (built-ins are not stored)
//	g/j/<kind>                     → JobRecord: status of a background job kind (jobs.Status)
//	g/l                            → LeaseRecord: the background-jobs leader lease (holder, term,
//	                                 expiry); every fenced transaction reads it (lease.go)
//	g/s/<digest>                   → (empty) sweep tombstone: GC removed the blob's record and
//	                                 is removing its file; linking the digest is refused meanwhile
//	e/<time>/<seq>                 → audit event (engine/audit), hash-chained to the one before;
//	                                 time and seq are 16 hex digits, so key order is append order
//	g/a                            → audit chain head: first and last seq, hash of the last event,
//	                                 size of the events kept
//	g/c/<topic>                    → generation (uvarint) of a published topic (changes.go)
//	g/t/<repo>                     → generation (uvarint) of a repository's tags, on a shared store
//	g/f/<bucket>                   → FailureRecord: a failed-login bucket (http/auth limiter) that
//	                                 replicas share; bucket is "p:<account>\x00<addr>" or "r:<addr>"
//	w/<sha256(session-id)>         → SessionRecord: a web UI sign-in (http/ui); keyed by a hash so
//	                                 the metadata store never holds a usable cookie
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

// The identity and policy namespaces (a/, k/, p/) were added without a
// schema change: they hold new keys only and older data simply has none.
var (
	accountPrefix     = []byte("a/i/")
	accountNamePrefix = []byte("a/n/")
	accountFoldPrefix = []byte("a/f/")
	accessKeyPrefix   = []byte("k/a/")
	signingKeyPrefix  = []byte("k/s/")
	policyPrefix      = []byte("p/")
	sessionPrefix     = []byte("w/")
)

func under(prefix []byte, s string) []byte {
	k := make([]byte, 0, len(prefix)+len(s))
	return append(append(k, prefix...), s...)
}

// AccountKey is the record of account id.
func AccountKey(id string) []byte { return under(accountPrefix, id) }

// AccountPrefix covers every account record.
func AccountPrefix() []byte { return accountPrefix }

// AccountNameKey maps an account name to its id.
func AccountNameKey(name string) []byte { return under(accountNamePrefix, name) }

// AccountNamePrefix covers every account name.
func AccountNamePrefix() []byte { return accountNamePrefix }

// AccountFoldKey claims the case-folded form of an account name (the
// caller folds it), so that two accounts never differ only in case. It is
// additive: data written before it has no such key and needs none
// (identity checks the names themselves too), so the schema version stays.
func AccountFoldKey(folded string) []byte { return under(accountFoldPrefix, folded) }

// AccessKeyKey is the record of access key id.
func AccessKeyKey(id string) []byte { return under(accessKeyPrefix, id) }

// AccessKeyPrefix covers every access key.
func AccessKeyPrefix() []byte { return accessKeyPrefix }

// SigningKeyKey is the token signing key id.
func SigningKeyKey(id string) []byte { return under(signingKeyPrefix, id) }

// SigningKeyPrefix covers every token signing key.
func SigningKeyPrefix() []byte { return signingKeyPrefix }

// PolicyKey is policy rule id.
func PolicyKey(id string) []byte { return under(policyPrefix, id) }

// SessionKey is the web UI session whose id hashes to h (hex).
func SessionKey(h string) []byte { return under(sessionPrefix, h) }

// SessionPrefix covers every web UI session.
func SessionPrefix() []byte { return sessionPrefix }

// PolicyPrefix covers every stored policy rule.
func PolicyPrefix() []byte { return policyPrefix }

// The GC and job namespace (g/) was added without a schema change, like
// a/, k/ and p/.
var (
	jobPrefix   = []byte("g/j/")
	sweepPrefix = []byte("g/s/")
	leaseKey    = []byte("g/l")
)

// JobKey is the status record of job kind.
func JobKey(kind string) []byte { return under(jobPrefix, kind) }

// JobPrefix covers every job status record.
func JobPrefix() []byte { return jobPrefix }

// LeaseKey is the background-jobs leader lease (lease.go).
func LeaseKey() []byte { return leaseKey }

// SweepKey is the tombstone GC holds while it deletes the file of blob d.
func SweepKey(d string) []byte { return under(sweepPrefix, d) }

// SweepPrefix covers every sweep tombstone.
func SweepPrefix() []byte { return sweepPrefix }

// The generation rows (g/c/, g/t/; changes.go) hold new keys only, like
// the rest of g/: older data has none, which reads as generation 0. They
// are never deleted, so a generation never goes back and a cache entry
// labelled with an old one can never look current again.
var (
	topicPrefix  = []byte("g/c/")
	tagGenPrefix = []byte("g/t/")
)

// TopicKey is the generation of published topic (Publish).
func TopicKey(topic string) []byte { return under(topicPrefix, topic) }

// TopicPrefix covers every topic's generation.
func TopicPrefix() []byte { return topicPrefix }

// TagGenerationKey is the generation of repo's tags.
func TagGenerationKey(repo string) []byte { return under(tagGenPrefix, repo) }

// Failed-login buckets (g/f/) are new keys in g/ like the rest, written
// only on a shared store and deleted once drained.
var failurePrefix = []byte("g/f/")

// FailureKey is the failed-login bucket named bucket.
func FailureKey(bucket string) []byte { return under(failurePrefix, bucket) }

// FailurePrefix covers every failed-login bucket.
func FailurePrefix() []byte { return failurePrefix }

// ManifestNamespace, LinkNamespace, TagNamespace and InverseLinkNamespace
// cover their kind of key in every repository, for maintenance scans (GC)
// that must not trust the catalog (r/) to name every repository.
func ManifestNamespace() []byte    { return []byte(manifestNS) }
func LinkNamespace() []byte        { return []byte(linkNS) }
func TagNamespace() []byte         { return []byte(tagNS) }
func InverseLinkNamespace() []byte { return []byte(inverseNS) }

// SplitAt splits what follows prefix in key at its first '@': the
// repository and the digest or tag of a key under ManifestNamespace,
// LinkNamespace or TagNamespace, the digest and the repository under
// InverseLinkNamespace. The results are copies.
func SplitAt(key, prefix []byte) (head, tail string, ok bool) {
	rest := key[len(prefix):]
	for i, c := range rest {
		if c == sep {
			return string(rest[:i]), string(rest[i+1:]), true
		}
	}
	return string(rest), "", false
}

// Suffix returns what follows prefix in key: the tag of a TagKey under
// TagPrefix, the repository of a RepoKey under RepoPrefix, and so on. The
// result is a copy, safe to keep after a Scan callback returns.
func Suffix(key, prefix []byte) string { return string(key[len(prefix):]) }

// The audit namespace (e/) and its chain head (g/a) were added without a
// schema change, like a/, k/, p/ and g/.
var (
	auditPrefix  = []byte("e/")
	auditHeadKey = []byte("g/a")
)

// AuditKey is the audit event with sequence number seq, appended at unix
// nanosecond t. Both are fixed-width hex so that byte order is time order
// and, within one nanosecond, append order.
func AuditKey(t int64, seq uint64) []byte {
	k := make([]byte, 0, len(auditPrefix)+33)
	k = append(k, auditPrefix...)
	k = appendHex16(k, uint64(t))
	k = append(k, '/')
	return appendHex16(k, seq)
}

// AuditPrefix covers every audit event.
func AuditPrefix() []byte { return auditPrefix }

// AuditHeadKey holds the state of the audit hash chain.
func AuditHeadKey() []byte { return auditHeadKey }

// ParseAuditKey returns the time and sequence number of an AuditKey.
func ParseAuditKey(key []byte) (t int64, seq uint64, ok bool) {
	if len(key) != len(auditPrefix)+33 || string(key[:len(auditPrefix)]) != string(auditPrefix) || key[len(auditPrefix)+16] != '/' {
		return 0, 0, false
	}
	rest := key[len(auditPrefix):]
	tv, ok1 := parseHex16(rest[:16])
	sv, ok2 := parseHex16(rest[17:])
	return int64(tv), sv, ok1 && ok2
}

func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

func parseHex16(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
