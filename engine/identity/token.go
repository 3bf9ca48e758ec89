package identity

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access is one granted scope, in the Docker token format: resource type
// ("repository" or "registry"), name (a repository, or "catalog") and
// actions.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// String renders a in the scope syntax, "repository:team/app:pull,push".
func (a Access) String() string {
	return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
}

// ParseScope reads one scope of the token request ("repository:team/app:
// pull,push", "registry:catalog:*"). A resource class, as in
// "repository(plugin):x:pull", is dropped. ok is false for anything
// malformed, which the caller ignores as the Docker token spec allows.
func ParseScope(s string) (Access, bool) {
	i := strings.IndexByte(s, ':')
	j := strings.LastIndexByte(s, ':')
	if i <= 0 || j <= i+1 || j == len(s)-1 {
		return Access{}, false
	}
	typ := s[:i]
	if k := strings.IndexByte(typ, '('); k > 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:k]
	}
	var acts []string
	for _, a := range strings.Split(s[j+1:], ",") {
		if a != "" && !slices.Contains(acts, a) {
			acts = append(acts, a)
		}
	}
	if len(acts) == 0 {
		return Access{}, false
	}
	return Access{Type: typ, Name: s[i+1 : j], Actions: acts}, true
}

// Token uses.
const (
	useAccess  = "access"
	useRefresh = "refresh"
)

// Claims are what an mcr token carries.
type Claims struct {
	jwt.RegisteredClaims
	Name        string   `json:"name,omitempty"`
	AccountType string   `json:"account_type,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Access      []Access `json:"access,omitempty"`
	Use         string   `json:"use"`
}

// Principal is the identity the token was issued to.
func (c *Claims) Principal() Principal {
	return Principal{ID: c.Subject, Name: c.Name, Type: c.AccountType, Roles: slices.Clone(c.Roles)}
}

// Grants reports whether the token grants action on resource name of typ.
func (c *Claims) Grants(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

// Issued is a signed token.
type Issued struct {
	Token     string
	IssuedAt  time.Time
	ExpiresIn time.Duration
}

func jti() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Service) sign(p Principal, access []Access, use string, ttl time.Duration) (Issued, error) {
	now := s.now().Truncate(time.Second)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.opts.Issuer,
			Subject:   p.ID,
			Audience:  jwt.ClaimStrings{s.opts.Service},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti(),
		},
		Name: p.Name, AccountType: p.Type, Roles: p.Roles, Access: access, Use: use,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = s.keys.signID
	signed, err := t.SignedString(s.keys.signKey)
	if err != nil {
		return Issued{}, err
	}
	return Issued{Token: signed, IssuedAt: now, ExpiresIn: ttl}, nil
}

// IssueToken signs an access token for p granting access. The caller has
// already intersected the requested scopes with the policy.
func (s *Service) IssueToken(p Principal, access []Access) (Issued, error) {
	if access == nil {
		access = []Access{}
	}
	return s.sign(p, access, useAccess, s.opts.TokenTTL)
}

// IssueRefresh signs a refresh token for p: it grants nothing by itself
// and is exchanged at the token endpoint (grant_type=refresh_token).
func (s *Service) IssueRefresh(p Principal) (Issued, error) {
	return s.sign(p, nil, useRefresh, s.opts.RefreshTTL)
}

// parse verifies a token's signature, algorithm, issuer, audience and
// times, and its use.
func (s *Service) parse(tok, use string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := s.keys.verify[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown signing key")
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.opts.Issuer),
		jwt.WithAudience(s.opts.Service),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, invalidToken(err)
	}
	// An access token may be anonymous (no subject: what the token
	// endpoint issues without credentials); a refresh token never is.
	if c.Use != use || (use == useRefresh && c.Subject == "") {
		return nil, ErrTokenInvalid
	}
	return &c, nil
}

// tokenLeeway is the clock skew tolerated on a token's times.
const tokenLeeway = 5 * time.Second

// VerifyToken checks an access token locally: no store round trip, and no
// signature check either for a token verified before that has not expired
// (tokenCache). The returned claims must not be modified.
func (s *Service) VerifyToken(tok string) (*Claims, error) {
	if cl, ok := s.verified.get(tok, s.now()); ok {
		return cl, nil
	}
	cl, err := s.parse(tok, useAccess)
	if err == nil {
		s.verified.put(tok, cl)
	}
	return cl, err
}

// VerifyRefresh checks a refresh token's signature and times. The caller
// re-checks the account (Principal) before issuing anything for it.
func (s *Service) VerifyRefresh(tok string) (*Claims, error) { return s.parse(tok, useRefresh) }

// LooksLikeToken reports whether tok was signed by one of this registry's
// keys (its header names a known kid), without verifying it: used to tell
// mcr's own tokens from an external identity service's.
func (s *Service) LooksLikeToken(tok string) bool {
	t, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		return false
	}
	kid, _ := t.Header["kid"].(string)
	_, ok := s.keys.verify[kid]
	return ok
}
