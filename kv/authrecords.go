package kv

// Records of the identity, policy and session namespaces (a/, k/, p/, w/;
// see keys.go).
// They use the same versioned codec as records.go: fields in a fixed order,
// new fields appended at the end.

// AccountRecord is an identity: a person (human) or a CI robot or service
// (system).
type AccountRecord struct {
	ID           string
	Name         string
	Type         string // "human" or "system"
	Roles        []string
	Disabled     bool
	Created      int64  // unix nanoseconds
	PasswordHash string // argon2id, PHC string format; "" when the account has no password
	Updated      int64
}

// AccessKeyRecord is a long-lived credential of a system account. Only a
// SHA-256 of the secret is stored: the secret is 256 random bits, so a
// slow hash adds nothing.
type AccessKeyRecord struct {
	ID          string
	Account     string // account id
	Hash        []byte // SHA-256 of the secret
	Description string
	Created     int64
	Revoked     int64 // 0 while the key is valid
}

// SigningKeyRecord is a token signing key.
type SigningKeyRecord struct {
	ID      string
	Alg     string // "EdDSA"
	Private []byte // the Ed25519 seed
	Created int64
}

// PolicyRecord is one policy rule.
type PolicyRecord struct {
	ID             string
	Priority       int64
	Description    string
	Effect         string // "allow" or "deny"
	SubjectAccount string // account id; "" = any
	SubjectType    string // account type; "" = any
	SubjectRole    string // role; "" = any
	Actions        []string
	Repositories   []string // globs; empty = global operations only
	Enabled        bool
	Created        int64
	Updated        int64
}

func (e *encoder) strings(v []string) {
	e.int(int64(len(v)))
	for _, s := range v {
		e.string(s)
	}
}

func (e *encoder) bool(v bool) {
	if v {
		e.int(1)
	} else {
		e.int(0)
	}
}

func (d *decoder) strings() []string {
	n := d.int()
	if n < 0 || n > int64(len(d.b)) { // every element takes at least one byte
		d.err = ErrCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.string()
	}
	return v
}

func (d *decoder) bool() bool { return d.int() != 0 }

// Encode serializes r.
func (r AccountRecord) Encode() []byte {
	e := start()
	e.string(r.ID)
	e.string(r.Name)
	e.string(r.Type)
	e.strings(r.Roles)
	e.bool(r.Disabled)
	e.int(r.Created)
	e.string(r.PasswordHash)
	e.int(r.Updated)
	return e.b
}

// DecodeAccount parses an AccountRecord.
func DecodeAccount(b []byte) (AccountRecord, error) {
	d := newDecoder(b)
	r := AccountRecord{ID: d.string(), Name: d.string(), Type: d.string(), Roles: d.strings(),
		Disabled: d.bool(), Created: d.int(), PasswordHash: d.string(), Updated: d.int()}
	return r, d.err
}

// Encode serializes r.
func (r AccessKeyRecord) Encode() []byte {
	e := start()
	e.string(r.ID)
	e.string(r.Account)
	e.bytes(r.Hash)
	e.string(r.Description)
	e.int(r.Created)
	e.int(r.Revoked)
	return e.b
}

// DecodeAccessKey parses an AccessKeyRecord.
func DecodeAccessKey(b []byte) (AccessKeyRecord, error) {
	d := newDecoder(b)
	r := AccessKeyRecord{ID: d.string(), Account: d.string(), Hash: d.bytes(), Description: d.string(),
		Created: d.int(), Revoked: d.int()}
	return r, d.err
}

// Encode serializes r.
func (r SigningKeyRecord) Encode() []byte {
	e := start()
	e.string(r.ID)
	e.string(r.Alg)
	e.bytes(r.Private)
	e.int(r.Created)
	return e.b
}

// DecodeSigningKey parses a SigningKeyRecord.
func DecodeSigningKey(b []byte) (SigningKeyRecord, error) {
	d := newDecoder(b)
	r := SigningKeyRecord{ID: d.string(), Alg: d.string(), Private: d.bytes(), Created: d.int()}
	return r, d.err
}

// Encode serializes r.
func (r PolicyRecord) Encode() []byte {
	e := start()
	e.string(r.ID)
	e.int(r.Priority)
	e.string(r.Description)
	e.string(r.Effect)
	e.string(r.SubjectAccount)
	e.string(r.SubjectType)
	e.string(r.SubjectRole)
	e.strings(r.Actions)
	e.strings(r.Repositories)
	e.bool(r.Enabled)
	e.int(r.Created)
	e.int(r.Updated)
	return e.b
}

// DecodePolicy parses a PolicyRecord.
func DecodePolicy(b []byte) (PolicyRecord, error) {
	d := newDecoder(b)
	r := PolicyRecord{ID: d.string(), Priority: d.int(), Description: d.string(), Effect: d.string(),
		SubjectAccount: d.string(), SubjectType: d.string(), SubjectRole: d.string(),
		Actions: d.strings(), Repositories: d.strings(), Enabled: d.bool(), Created: d.int(), Updated: d.int()}
	return r, d.err
}

// SessionRecord is a web UI sign-in. The principal is copied in because
// with MCIAS the account lives elsewhere; with builtin accounts the UI
// re-reads the account on every request, so disabling it ends the session.
type SessionRecord struct {
	AccountID string
	Name      string
	Type      string
	Roles     []string
	CSRF      string // the token every state-changing form of the session carries
	Created   int64  // unix nanoseconds
	Expires   int64  // unix nanoseconds
}

// Encode serializes r.
func (r SessionRecord) Encode() []byte {
	e := start()
	e.string(r.AccountID)
	e.string(r.Name)
	e.string(r.Type)
	e.strings(r.Roles)
	e.string(r.CSRF)
	e.int(r.Created)
	e.int(r.Expires)
	return e.b
}

// DecodeSession parses a SessionRecord.
func DecodeSession(b []byte) (SessionRecord, error) {
	d := newDecoder(b)
	r := SessionRecord{AccountID: d.string(), Name: d.string(), Type: d.string(), Roles: d.strings(),
		CSRF: d.string(), Created: d.int(), Expires: d.int()}
	return r, d.err
}
