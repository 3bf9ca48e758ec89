// Package apiv1 holds the JSON documents of the admin API (/api/v1): what
// the server writes and what mcrctl reads. It depends on the standard
// library only, so a client links none of the server.
package apiv1

import (
	"encoding/json"
	"strings"
	"time"
)

// Prefix is where the admin API is mounted.
const Prefix = "/api/v1"

// Sep separates a repository name from its sub-resources in a path
// (/api/v1/repositories/team/app/-/tags): "-" alone is not a valid
// component of a repository name.
const Sep = "/-/"

// Error is the body of every error answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong.
type ErrorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// The error codes.
const (
	CodeBadRequest       = "BAD_REQUEST"
	CodeUnauthorized     = "UNAUTHORIZED"
	CodeDenied           = "DENIED"
	CodeNotFound         = "NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeConflict         = "CONFLICT"
	CodeTooLarge         = "TOO_LARGE"
	CodeInvalid          = "INVALID"
	CodeTooManyRequests  = "TOO_MANY_REQUESTS"
	CodeUnavailable      = "UNAVAILABLE"
	CodeInternal         = "INTERNAL"
	// CodeInsufficientStorage: the registry's disk is below its floor.
	CodeInsufficientStorage = "INSUFFICIENT_STORAGE"
)

// Status is GET /status.
type Status struct {
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Storage       Storage   `json:"storage"`
	Repositories  int64     `json:"repositories"`
	Manifests     int64     `json:"manifests"`
	Tags          int64     `json:"tags"`
	Blobs         int64     `json:"blobs"`
	UploadsActive int64     `json:"uploads_active"`
	Jobs          []Job     `json:"jobs"`
	Leader        Leader    `json:"leader"`
}

// Leader is the replica that runs the background jobs: the holder of the
// leader lease in the shared metadata store (docs/scale-out.md). A
// replica alone on its store (Badger) always leads.
type Leader struct {
	// Replica is the leader's host/listen address; empty while no
	// replica holds the lease.
	Replica string `json:"replica"`
	// Term grows with every change of leader; the leader's writes are
	// fenced by it.
	Term int64 `json:"term"`
	// Expires is when the lease runs out unless renewed; nil on a
	// single-node store.
	Expires *time.Time `json:"expires,omitempty"`
	// Self says whether the replica that answered leads.
	Self bool `json:"self"`
}

// Storage is the space used, and what is left on each filesystem the
// registry writes.
type Storage struct {
	BlobBytes     int64 `json:"blob_bytes"`
	MetadataBytes int64 `json:"metadata_bytes"`
	// StagingFiles and StagingBytes are the uploads directory: the files
	// of open sessions and of whole-blob uploads in flight.
	StagingFiles int64 `json:"staging_files"`
	StagingBytes int64 `json:"staging_bytes"`
	// Filesystems are the filesystems the registry writes, against
	// their floors.
	Filesystems []Filesystem `json:"filesystems,omitempty"`
}

// Filesystem is one filesystem the registry writes, against its floors
// (docs/operations.md, "Disk space"). FreeBytes is the space usable for
// data: the reserve held for the metadata store is not counted, and a
// released reserve is not either.
type Filesystem struct {
	Names        string `json:"names"` // the directories on it: "data, meta"
	Path         string `json:"path"`
	SizeBytes    uint64 `json:"size_bytes"`
	FreeBytes    uint64 `json:"free_bytes"`
	FloorBytes   uint64 `json:"floor_bytes"`
	Inodes       uint64 `json:"inodes"`
	FreeInodes   uint64 `json:"free_inodes"`
	FloorInodes  uint64 `json:"floor_inodes"`
	ReserveBytes uint64 `json:"reserve_bytes"` // held now: 0 when released
	ReserveSize  uint64 `json:"reserve_size"`
	BelowFloor   bool   `json:"below_floor"`
	Reason       string `json:"reason,omitempty"`
}

// Upload is an open blob upload session.
type Upload struct {
	ID         string `json:"id"`
	Repository string `json:"repository"`
	// Bytes are the bytes recorded: what GET on the session reports and
	// a client resumes after.
	Bytes     int64      `json:"bytes"`
	Started   time.Time  `json:"started"`
	LastWrite *time.Time `json:"last_write,omitempty"`
}

// UploadPage is a page of the upload session list.
type UploadPage struct {
	Uploads []Upload `json:"uploads"`
	Next    string   `json:"next,omitempty"`
}

// Repository is one repository.
type Repository struct {
	Name      string     `json:"name"`
	Created   time.Time  `json:"created"`
	Tags      int64      `json:"tags"`
	Manifests int64      `json:"manifests"`
	SizeBytes int64      `json:"size_bytes"`
	LastPush  *time.Time `json:"last_push,omitempty"`
}

// RepositoryPage is a page of the repository list.
type RepositoryPage struct {
	Repositories []Repository `json:"repositories"`
	Next         string       `json:"next,omitempty"`
}

// Tag is one tag.
type Tag struct {
	Name     string    `json:"name"`
	Digest   string    `json:"digest"`
	Manifest *Manifest `json:"manifest,omitempty"` // GET of one tag only
}

// TagPage is a page of a repository's tags.
type TagPage struct {
	Tags []Tag  `json:"tags"`
	Next string `json:"next,omitempty"`
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Platform is an index entry's platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
	OSVersion    string `json:"os.version,omitempty"`
}

// PlatformManifest is one manifest of an index.
type PlatformManifest struct {
	Digest   string    `json:"digest"`
	Platform *Platform `json:"platform,omitempty"`
}

// Manifest is one manifest. Listings fill the fields up to Tags; GET of
// one manifest fills the rest.
type Manifest struct {
	Digest       string    `json:"digest"`
	MediaType    string    `json:"media_type"`
	ArtifactType string    `json:"artifact_type,omitempty"`
	Size         int64     `json:"size"`
	Created      time.Time `json:"created"`
	Tags         []string  `json:"tags"`

	Subject   string             `json:"subject,omitempty"`
	Config    *Descriptor        `json:"config,omitempty"`
	Layers    []Descriptor       `json:"layers,omitempty"`
	Platforms []PlatformManifest `json:"platforms,omitempty"`
	Referrers []Descriptor       `json:"referrers,omitempty"`
	Raw       json.RawMessage    `json:"manifest,omitempty"`
}

// ManifestPage is a page of a repository's manifests.
type ManifestPage struct {
	Manifests []Manifest `json:"manifests"`
	Next      string     `json:"next,omitempty"`
}

// Job is the status of a background job kind.
type Job struct {
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Started  *time.Time      `json:"started,omitempty"`
	Finished *time.Time      `json:"finished,omitempty"`
	Done     int64           `json:"done"`
	Total    int64           `json:"total"`
	Note     string          `json:"note,omitempty"`
	Runs     int64           `json:"runs"`
	Next     *time.Time      `json:"next,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// Active reports whether the job is queued or running.
func (j Job) Active() bool { return j.State == "queued" || j.State == "running" }

// GCRequest is the body of POST /gc.
type GCRequest struct {
	DryRun bool `json:"dry_run"`
}

// GCStatus is GET /gc.
type GCStatus struct {
	GC      Job `json:"gc"`
	DryRun  Job `json:"dry_run"`
	Uploads Job `json:"uploads"`
}

// Subject selects the callers a rule applies to.
type Subject struct {
	AccountID   string `json:"account_id,omitempty"`
	AccountType string `json:"account_type,omitempty"`
	Role        string `json:"role,omitempty"`
}

// String spells the subject for people, both CLIs alike: the fields set,
// as "account=ci,type=system,role=admin", or "anyone" when none is (the
// subject every caller matches, anonymous ones included).
func (s Subject) String() string {
	var parts []string
	for _, f := range [][2]string{{"account", s.AccountID}, {"type", s.AccountType}, {"role", s.Role}} {
		if f[1] != "" {
			parts = append(parts, f[0]+"="+f[1])
		}
	}
	if len(parts) == 0 {
		return "anyone"
	}
	return strings.Join(parts, ",")
}

// DefaultPriority is the priority of a rule that names none: in a request
// body, a rule file and the CLIs' --priority flags alike.
const DefaultPriority = 100

// NewRule is a rule as a request body without those fields means it:
// enabled, at DefaultPriority. Decode a body into it.
func NewRule() Rule { return Rule{Enabled: true, Priority: DefaultPriority} }

// Rule is a policy rule.
type Rule struct {
	ID           string   `json:"id"`
	Priority     int      `json:"priority"`
	Description  string   `json:"description,omitempty"`
	Effect       string   `json:"effect"`
	Subject      Subject  `json:"subject"`
	Actions      []string `json:"actions"`
	Repositories []string `json:"repositories,omitempty"`
	Enabled      bool     `json:"enabled"`
	BuiltIn      bool     `json:"builtin,omitempty"`
}

// RuleList is GET /policy/rules.
type RuleList struct {
	Rules []Rule `json:"rules"`
}

// EvaluateRequest is the body of POST /policy/evaluate: an account (name
// or id), or a hypothetical caller by type and roles; neither is an
// anonymous caller.
type EvaluateRequest struct {
	Account     string   `json:"account,omitempty"`
	AccountType string   `json:"account_type,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Action      string   `json:"action"`
	Repository  string   `json:"repository,omitempty"`
}

// Decision is the answer of POST /policy/evaluate.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	Rule    *Rule  `json:"rule,omitempty"`
}

// Account is an account, without secrets.
type Account struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Roles   []string  `json:"roles"`
	Enabled bool      `json:"enabled"`
	Created time.Time `json:"created"`
}

// AccountList is GET /accounts.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

// NewAccount is the body of POST /accounts.
type NewAccount struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Roles    []string `json:"roles,omitempty"`
	Password string   `json:"password,omitempty"`
}

// CreatedAccount is the answer of POST /accounts; Password is set only
// when the server generated it.
type CreatedAccount struct {
	Account  Account `json:"account"`
	Password string  `json:"password,omitempty"`
}

// Password is the body of PUT /accounts/{id}/password.
type Password struct {
	Password string `json:"password"`
}

// AccessKey describes an access key; never its secret.
type AccessKey struct {
	ID          string     `json:"id"`
	Account     string     `json:"account"`
	Description string     `json:"description,omitempty"`
	Created     time.Time  `json:"created"`
	Revoked     *time.Time `json:"revoked,omitempty"`
}

// AccessKeyList is GET /accounts/{id}/keys.
type AccessKeyList struct {
	Keys []AccessKey `json:"keys"`
}

// NewAccessKey is the body of POST /accounts/{id}/keys.
type NewAccessKey struct {
	Description string `json:"description,omitempty"`
}

// CreatedAccessKey is the answer of POST /accounts/{id}/keys: the secret
// is shown this once.
type CreatedAccessKey struct {
	Key    AccessKey `json:"key"`
	Secret string    `json:"secret"`
}

// Event is an audit event.
type Event struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Type        string    `json:"type"`
	AccountID   string    `json:"account_id,omitempty"`
	AccountName string    `json:"account_name,omitempty"`
	AccountType string    `json:"account_type,omitempty"`
	Remote      string    `json:"remote,omitempty"`
	Action      string    `json:"action,omitempty"`
	Repository  string    `json:"repository,omitempty"`
	Digest      string    `json:"digest,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	// Count is how many occurrences an aggregated event stands for
	// (failed logins, anonymous tokens and denials: one event per source
	// and minute); absent for a single one.
	Count  uint64 `json:"count,omitempty"`
	Cursor string `json:"cursor"`
	Hash   string `json:"hash"`
	Prev   string `json:"prev"`
}

// EventPage is a page of the audit log, oldest first.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"`
}

// Verification is GET /audit/verify.
type Verification struct {
	OK     bool   `json:"ok"`
	Events uint64 `json:"events"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
	Head   string `json:"head,omitempty"`
	Broken *Break `json:"broken,omitempty"`
}

// Break is where the audit chain does not hold.
type Break struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// SnapshotRequest is the body of POST /snapshots.
type SnapshotRequest struct {
	Dir string `json:"dir"`
}

// Snapshot is the answer of POST /snapshots.
type Snapshot struct {
	Dir       string    `json:"dir"`
	Created   time.Time `json:"created"`
	Blobs     int       `json:"blobs"`
	BlobBytes int64     `json:"blob_bytes"`
	// Linked and Copied count how the blob files got there: hard links on
	// the data directory's filesystem, copies elsewhere.
	Linked int `json:"linked"`
	Copied int `json:"copied"`
	// MetadataBytes is the size of the metadata backup stream.
	MetadataBytes int64 `json:"metadata_bytes"`
}

// JobList is GET /jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
}
