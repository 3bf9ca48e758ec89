package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// loginCacheTTL is the identity service's setting: 0 there means the
// default, a negative value turns the cache off.
func (a AuthConfig) loginCacheTTL() time.Duration {
	if a.LoginCacheTTL.Duration == 0 {
		return -1
	}
	return a.LoginCacheTTL.Duration
}

// validate reports the problems of the auth section.
func (a AuthConfig) validate() []error {
	var errs []error
	switch a.Mode {
	case "builtin", "none", "mcias":
	default:
		errs = append(errs, fmt.Errorf("auth.mode %q: want builtin, none or mcias", a.Mode))
	}
	if a.Mode == "none" {
		return errs
	}
	if a.Service == "" || len(a.Service) > 255 {
		errs = append(errs, errors.New("auth.service: must name this registry (1-255 characters)"))
	}
	if a.Realm != "" {
		if u, err := url.Parse(a.Realm); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("auth.realm %q: want the absolute URL of the token endpoint, e.g. https://registry.example.com/v2/token", a.Realm))
		}
	}
	if a.TokenTTL.Duration <= 0 {
		errs = append(errs, errors.New("auth.token_ttl: must be positive"))
	}
	if a.LoginCacheTTL.Duration < 0 || a.LoginCacheTTL.Duration > time.Hour {
		errs = append(errs, errors.New("auth.login_cache_ttl: want 0 (off) to 1h"))
	}
	if a.RefreshTTL.Duration < a.TokenTTL.Duration {
		errs = append(errs, errors.New("auth.refresh_ttl: must be at least auth.token_ttl"))
	}
	if a.Mode == "builtin" && a.AdminUser == "" {
		errs = append(errs, errors.New("auth.admin_user: must name the first admin"))
	}
	if a.Mode == "mcias" {
		if u, err := url.Parse(a.MCIAS.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("auth.mcias.url %q: want https://host[:port] (TLS 1.3 is required)", a.MCIAS.URL))
		}
		if a.MCIAS.Timeout.Duration <= 0 {
			errs = append(errs, errors.New("auth.mcias.timeout: must be positive"))
		}
	}
	return errs
}
