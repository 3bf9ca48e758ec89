package kv

// Records of the identity, policy and session namespaces (a/, k/, p/, w/;
// see keys.go).
// They use the same versioned codec as records.go (codec.go): fields in a
// fixed order, new fields appended at the end.

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

func (r *AccountRecord) fields(c *codec) {
	c.string(&r.ID)
	c.string(&r.Name)
	c.string(&r.Type)
	c.strings(&r.Roles)
	c.bool(&r.Disabled)
	c.int(&r.Created)
	c.string(&r.PasswordHash)
	c.int(&r.Updated)
}

// Encode serializes r.
func (r AccountRecord) Encode() []byte { return encode(&r, 0) }

// DecodeAccount parses an AccountRecord.
func DecodeAccount(b []byte) (AccountRecord, error) { return decode[AccountRecord](b) }

func (r *AccessKeyRecord) fields(c *codec) {
	c.string(&r.ID)
	c.string(&r.Account)
	c.bytes(&r.Hash)
	c.string(&r.Description)
	c.int(&r.Created)
	c.int(&r.Revoked)
}

// Encode serializes r.
func (r AccessKeyRecord) Encode() []byte { return encode(&r, 0) }

// DecodeAccessKey parses an AccessKeyRecord.
func DecodeAccessKey(b []byte) (AccessKeyRecord, error) { return decode[AccessKeyRecord](b) }

func (r *SigningKeyRecord) fields(c *codec) {
	c.string(&r.ID)
	c.string(&r.Alg)
	c.bytes(&r.Private)
	c.int(&r.Created)
}

// Encode serializes r.
func (r SigningKeyRecord) Encode() []byte { return encode(&r, 0) }

// DecodeSigningKey parses a SigningKeyRecord.
func DecodeSigningKey(b []byte) (SigningKeyRecord, error) { return decode[SigningKeyRecord](b) }

func (r *PolicyRecord) fields(c *codec) {
	c.string(&r.ID)
	c.int(&r.Priority)
	c.string(&r.Description)
	c.string(&r.Effect)
	c.string(&r.SubjectAccount)
	c.string(&r.SubjectType)
	c.string(&r.SubjectRole)
	c.strings(&r.Actions)
	c.strings(&r.Repositories)
	c.bool(&r.Enabled)
	c.int(&r.Created)
	c.int(&r.Updated)
}

// Encode serializes r.
func (r PolicyRecord) Encode() []byte { return encode(&r, 0) }

// DecodePolicy parses a PolicyRecord.
func DecodePolicy(b []byte) (PolicyRecord, error) { return decode[PolicyRecord](b) }

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

func (r *SessionRecord) fields(c *codec) {
	c.string(&r.AccountID)
	c.string(&r.Name)
	c.string(&r.Type)
	c.strings(&r.Roles)
	c.string(&r.CSRF)
	c.int(&r.Created)
	c.int(&r.Expires)
}

// Encode serializes r.
func (r SessionRecord) Encode() []byte { return encode(&r, 0) }

// DecodeSession parses a SessionRecord.
func DecodeSession(b []byte) (SessionRecord, error) { return decode[SessionRecord](b) }
