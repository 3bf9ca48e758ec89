package kv

// BlobRecord says the content of a digest is in the blob store.
type BlobRecord struct {
	Size       int64
	Created    int64 // unix nanoseconds
	LastLinked int64 // unix nanoseconds; bumped by every link and manifest commit (GC, docs/design.md §5)
}

// RepoRecord says a repository exists.
type RepoRecord struct {
	Created int64
}

// ManifestRecord is a stored manifest with the metadata served with it.
type ManifestRecord struct {
	MediaType    string
	ArtifactType string
	Subject      string // digest of the subject, "" when none
	Created      int64
	Payload      []byte // the manifest exactly as pushed
}

// UploadRecord is an open blob upload session.
type UploadRecord struct {
	Repo      string
	Offset    int64  // bytes durably in the staging file
	Started   int64  // unix nanoseconds
	HashState []byte // sha256 state after Offset bytes (encoding.BinaryMarshaler)
	Updated   int64  // unix nanoseconds of the last recorded write; 0 before the first
	// Staging is the blob store's state of the staging after Offset bytes
	// (blobstore.Writer.Sync): nothing for local files, the multipart
	// upload and its parts on S3.
	Staging []byte
}

func (r *BlobRecord) fields(c *codec) {
	c.int(&r.Size)
	c.int(&r.Created)
	c.int(&r.LastLinked)
}

// Encode serializes r.
func (r BlobRecord) Encode() []byte { return encode(&r, 0) }

// DecodeBlob parses a BlobRecord.
func DecodeBlob(b []byte) (BlobRecord, error) { return decode[BlobRecord](b) }

func (r *RepoRecord) fields(c *codec) {
	c.int(&r.Created)
}

// Encode serializes r.
func (r RepoRecord) Encode() []byte { return encode(&r, 0) }

// DecodeRepo parses a RepoRecord.
func DecodeRepo(b []byte) (RepoRecord, error) { return decode[RepoRecord](b) }

func (r *ManifestRecord) fields(c *codec) {
	c.string(&r.MediaType)
	c.string(&r.ArtifactType)
	c.string(&r.Subject)
	c.int(&r.Created)
	c.bytes(&r.Payload)
}

// Encode serializes r.
func (r ManifestRecord) Encode() []byte {
	return encode(&r, len(r.Payload)+len(r.MediaType)+len(r.ArtifactType)+len(r.Subject)+32)
}

// DecodeManifest parses a ManifestRecord.
func DecodeManifest(b []byte) (ManifestRecord, error) { return decode[ManifestRecord](b) }

func (r *UploadRecord) fields(c *codec) {
	c.string(&r.Repo)
	c.int(&r.Offset)
	c.int(&r.Started)
	c.bytes(&r.HashState)
	c.int(&r.Updated)
	c.bytes(&r.Staging)
}

// Encode serializes r.
func (r UploadRecord) Encode() []byte { return encode(&r, 0) }

// DecodeUpload parses an UploadRecord.
func DecodeUpload(b []byte) (UploadRecord, error) { return decode[UploadRecord](b) }

// JobRecord is the persisted status of a background job kind (jobs.Status;
// times in unix nanoseconds, 0 for none).
type JobRecord struct {
	State      string
	Started    int64
	Finished   int64
	Done       int64
	Total      int64
	Note       string
	LastResult string
	LastError  string
	Runs       int64
}

func (r *JobRecord) fields(c *codec) {
	c.string(&r.State)
	c.int(&r.Started)
	c.int(&r.Finished)
	c.int(&r.Done)
	c.int(&r.Total)
	c.string(&r.Note)
	c.string(&r.LastResult)
	c.string(&r.LastError)
	c.int(&r.Runs)
}

// Encode serializes r.
func (r JobRecord) Encode() []byte { return encode(&r, 0) }

// DecodeJob parses a JobRecord.
func DecodeJob(b []byte) (JobRecord, error) { return decode[JobRecord](b) }

// LeaseRecord is the background-jobs leader lease (lease.go): which
// process holds it, under which term, until when (unix nanoseconds, by the
// holder's clock), and the replica name operators see.
type LeaseRecord struct {
	Holder  string
	Name    string
	Term    int64
	Expires int64
}

func (r *LeaseRecord) fields(c *codec) {
	c.string(&r.Holder)
	c.string(&r.Name)
	c.int(&r.Term)
	c.int(&r.Expires)
}

// Encode serializes r.
func (r LeaseRecord) Encode() []byte { return encode(&r, 0) }

// DecodeLease parses a LeaseRecord.
func DecodeLease(b []byte) (LeaseRecord, error) { return decode[LeaseRecord](b) }

// FailureRecord is a failed-login bucket shared by replicas (http/auth's
// limiter): the time (unix nanoseconds) at which it drains empty. Its
// level at t is (Empty - t) times its drain rate, when positive, so one
// number describes it whatever the bucket's burst.
type FailureRecord struct {
	Empty int64
}

func (r *FailureRecord) fields(c *codec) { c.int(&r.Empty) }

// Encode serializes r.
func (r FailureRecord) Encode() []byte { return encode(&r, 0) }

// DecodeFailure parses a FailureRecord.
func DecodeFailure(b []byte) (FailureRecord, error) { return decode[FailureRecord](b) }
