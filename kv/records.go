package kv

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt is returned when a stored record cannot be decoded.
var ErrCorrupt = errors.New("kv: corrupt record")

// Records are encoded as a version byte followed by fields in a fixed order:
// integers as varints, strings and byte slices as uvarint length + bytes. A
// new field is appended at the end and older records decode with its zero
// value, so adding one needs no migration.
const recordVersion = 1

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

type encoder struct{ b []byte }

func (e *encoder) int(v int64) { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(v []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) string(v string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}

type decoder struct {
	b   []byte
	err error
}

func newDecoder(b []byte) *decoder {
	if len(b) == 0 || b[0] != recordVersion {
		return &decoder{err: ErrCorrupt}
	}
	return &decoder{b: b[1:]}
}

func (d *decoder) int() int64 {
	if d.err != nil || len(d.b) == 0 {
		return 0 // a field appended after this record was written
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	if d.err != nil || len(d.b) == 0 {
		return nil
	}
	l, n := binary.Uvarint(d.b)
	if n <= 0 || uint64(len(d.b)-n) < l {
		d.err = ErrCorrupt
		return nil
	}
	v := make([]byte, l)
	copy(v, d.b[n:])
	d.b = d.b[n+int(l):]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func start() *encoder { return &encoder{b: []byte{recordVersion}} }

// Encode serializes r.
func (r BlobRecord) Encode() []byte {
	e := start()
	e.int(r.Size)
	e.int(r.Created)
	e.int(r.LastLinked)
	return e.b
}

// DecodeBlob parses a BlobRecord.
func DecodeBlob(b []byte) (BlobRecord, error) {
	d := newDecoder(b)
	r := BlobRecord{Size: d.int(), Created: d.int(), LastLinked: d.int()}
	return r, d.err
}

// Encode serializes r.
func (r RepoRecord) Encode() []byte {
	e := start()
	e.int(r.Created)
	return e.b
}

// DecodeRepo parses a RepoRecord.
func DecodeRepo(b []byte) (RepoRecord, error) {
	d := newDecoder(b)
	r := RepoRecord{Created: d.int()}
	return r, d.err
}

// Encode serializes r.
func (r ManifestRecord) Encode() []byte {
	e := start()
	e.b = make([]byte, 0, len(r.Payload)+len(r.MediaType)+len(r.ArtifactType)+len(r.Subject)+32)
	e.b = append(e.b, recordVersion)
	e.string(r.MediaType)
	e.string(r.ArtifactType)
	e.string(r.Subject)
	e.int(r.Created)
	e.bytes(r.Payload)
	return e.b
}

// DecodeManifest parses a ManifestRecord.
func DecodeManifest(b []byte) (ManifestRecord, error) {
	d := newDecoder(b)
	r := ManifestRecord{MediaType: d.string(), ArtifactType: d.string(), Subject: d.string(), Created: d.int(), Payload: d.bytes()}
	return r, d.err
}

// Encode serializes r.
func (r UploadRecord) Encode() []byte {
	e := start()
	e.string(r.Repo)
	e.int(r.Offset)
	e.int(r.Started)
	e.bytes(r.HashState)
	e.int(r.Updated)
	e.bytes(r.Staging)
	return e.b
}

// DecodeUpload parses an UploadRecord.
func DecodeUpload(b []byte) (UploadRecord, error) {
	d := newDecoder(b)
	r := UploadRecord{Repo: d.string(), Offset: d.int(), Started: d.int(), HashState: d.bytes(), Updated: d.int(), Staging: d.bytes()}
	if len(r.Staging) == 0 {
		r.Staging = nil // local files keep no state
	}
	return r, d.err
}

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

// Encode serializes r.
func (r JobRecord) Encode() []byte {
	e := start()
	e.string(r.State)
	e.int(r.Started)
	e.int(r.Finished)
	e.int(r.Done)
	e.int(r.Total)
	e.string(r.Note)
	e.string(r.LastResult)
	e.string(r.LastError)
	e.int(r.Runs)
	return e.b
}

// DecodeJob parses a JobRecord.
func DecodeJob(b []byte) (JobRecord, error) {
	d := newDecoder(b)
	r := JobRecord{State: d.string(), Started: d.int(), Finished: d.int(), Done: d.int(), Total: d.int(),
		Note: d.string(), LastResult: d.string(), LastError: d.string(), Runs: d.int()}
	return r, d.err
}

// LeaseRecord is the background-jobs leader lease (lease.go): which
// process holds it, under which term, until when (unix nanoseconds, by the
// holder's clock), and the replica name operators see.
type LeaseRecord struct {
	Holder  string
	Name    string
	Term    int64
	Expires int64
}

// Encode serializes r.
func (r LeaseRecord) Encode() []byte {
	e := start()
	e.string(r.Holder)
	e.string(r.Name)
	e.int(r.Term)
	e.int(r.Expires)
	return e.b
}

// DecodeLease parses a LeaseRecord.
func DecodeLease(b []byte) (LeaseRecord, error) {
	d := newDecoder(b)
	r := LeaseRecord{Holder: d.string(), Name: d.string(), Term: d.int(), Expires: d.int()}
	return r, d.err
}

// FailureRecord is a failed-login bucket shared by replicas (http/auth's
// limiter): the time (unix nanoseconds) at which it drains empty. Its
// level at t is (Empty - t) times its drain rate, when positive, so one
// number describes it whatever the bucket's burst.
type FailureRecord struct {
	Empty int64
}

// Encode serializes r.
func (r FailureRecord) Encode() []byte {
	e := start()
	e.int(r.Empty)
	return e.b
}

// DecodeFailure parses a FailureRecord.
func DecodeFailure(b []byte) (FailureRecord, error) {
	d := newDecoder(b)
	r := FailureRecord{Empty: d.int()}
	return r, d.err
}
