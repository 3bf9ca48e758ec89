package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id's cost parameters.
type HashParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultHashParams follow RFC 9106 §4's second recommended option
// (t=3, 64 MiB), with two lanes.
var DefaultHashParams = HashParams{Time: 3, Memory: 64 * 1024, Threads: 2}

const (
	saltLen = 16
	hashLen = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of pw in the PHC string format:
// $argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<hash>.
func HashPassword(pw string, p HashParams) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(sum))
}

var errBadHash = errors.New("identity: malformed password hash")

// parseHash reads a PHC argon2id string.
func parseHash(h string) (HashParams, []byte, []byte, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return HashParams{}, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return HashParams{}, nil, nil, errBadHash
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return HashParams{}, nil, nil, errBadHash
	}
	// Bounds keep a corrupted or hostile record from costing more than a
	// few GiB or running forever.
	if p.Time == 0 || p.Time > 64 || p.Memory < 8 || p.Memory > 4<<20 || p.Threads == 0 {
		return HashParams{}, nil, nil, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	sum, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(sum) < 16 {
		return HashParams{}, nil, nil, errBadHash
	}
	return p, salt, sum, nil
}

// VerifyPassword reports whether pw matches the PHC hash h, comparing in
// constant time.
func VerifyPassword(pw, h string) bool {
	p, salt, want, err := parseHash(h)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// GeneratePassword returns a random password of 24 characters (about 143
// bits), URL-safe so that it survives copy and paste and shells.
func GeneratePassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
