package identity

import (
	"context"
	"runtime"
	"sync"
	"time"

	"git.wntrmute.dev/kyle/mcr/kv"
)

// Options configures a Service. Zero values take the defaults.
type Options struct {
	// Service is the audience of every token: tokens issued for another
	// service are refused. Default "mcr".
	Service string
	// Issuer is the iss claim. Default "mcr".
	Issuer string
	// TokenTTL is the life of an access token. Default 5 minutes.
	TokenTTL time.Duration
	// RefreshTTL is the life of a refresh token. Default 7 days.
	RefreshTTL time.Duration
	// Hash are the argon2id parameters for new passwords. Default
	// DefaultHashParams; stored hashes keep the parameters they were made
	// with.
	Hash HashParams
	// MaxHashers bounds concurrent argon2id computations. Default
	// GOMAXPROCS.
	MaxHashers int
	// LoginCacheTTL is how long a successful login is remembered (keyed by
	// a SHA-256 of the credentials). Default 30 s; negative disables.
	LoginCacheTTL time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Service == "" {
		o.Service = "mcr"
	}
	if o.Issuer == "" {
		o.Issuer = "mcr"
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 5 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 7 * 24 * time.Hour
	}
	if o.Hash == (HashParams{}) {
		o.Hash = DefaultHashParams
	}
	if o.MaxHashers <= 0 {
		o.MaxHashers = runtime.GOMAXPROCS(0)
	}
	if o.LoginCacheTTL == 0 {
		o.LoginCacheTTL = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service is the identity service over the metadata store.
type Service struct {
	store   kv.Store
	opts    Options
	now     func() time.Time
	keys    *keyring
	hashers chan struct{}
	logins  loginCache
	// verified caches access tokens whose signature was checked.
	verified tokenCache
	dummy    func() string // a hash spent on logins of unknown accounts, made on first use
}

// New opens the identity service on store, creating the token signing key
// on first use.
func New(ctx context.Context, store kv.Store, o Options) (*Service, error) {
	o.defaults()
	s := &Service{
		store:   store,
		opts:    o,
		now:     o.Now,
		hashers: make(chan struct{}, o.MaxHashers),
		dummy:   sync.OnceValue(func() string { return HashPassword(GeneratePassword(), o.Hash) }),
	}
	kr, err := loadKeyring(ctx, store, s.now())
	if err != nil {
		return nil, err
	}
	s.keys = kr
	return s, nil
}

// ServiceName is the audience tokens are issued for.
func (s *Service) ServiceName() string { return s.opts.Service }

// TokenTTL is the life of an access token.
func (s *Service) TokenTTL() time.Duration { return s.opts.TokenTTL }

// hash runs fn holding one of the MaxHashers slots.
func (s *Service) hash(ctx context.Context, fn func()) error {
	select {
	case s.hashers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashers }()
	fn()
	return nil
}
