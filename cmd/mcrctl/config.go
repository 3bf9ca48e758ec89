package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"
)

// defaultConfigHint is how help names the default config file.
const defaultConfigHint = "<user config dir>/mcr/mcrctl.json"

// fileConfig is the config file `mcrctl login` writes: where the registry
// is and a refresh token for it. Never a password.
type fileConfig struct {
	Server       string `json:"server"`
	Username     string `json:"username,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Realm and Service are the server's Bearer challenge, kept so that a
	// command need not ask for it again before exchanging the token.
	Realm   string `json:"realm,omitempty"`
	Service string `json:"service,omitempty"`
}

// configPath is --config, then MCR_CONFIG, then the default under
// os.UserConfigDir.
func configPath(cmd *cli.Command, s *streams) (string, error) {
	if p := cmd.String("config"); p != "" {
		return p, nil
	}
	if p := s.Getenv("MCR_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (%w): give --config or set MCR_CONFIG", err)
	}
	return filepath.Join(dir, "mcr", "mcrctl.json"), nil
}

// loadConfig reads path; a missing file is an empty config. A file others
// can read is used, with a warning on w: it holds a credential.
func loadConfig(path string, w io.Writer) (fileConfig, error) {
	var c fileConfig
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(w, "mcrctl: warning: %s is mode %04o; it holds a refresh token and should be 0600\n", path, fi.Mode().Perm())
	}
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// saveConfig writes c to path, mode 0600, atomically: a crash leaves the
// old file or the new one.
func saveConfig(path string, c fileConfig) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mcrctl-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// normalizeServer makes a base URL of what the user typed: no trailing
// slash, and a scheme that must be there. mcrctl does not guess one: a
// registry on a private port is often plain HTTP, and https:// sent to it
// fails with a TLS error that does not say what to type instead.
func normalizeServer(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if s == "" {
		return "", nil
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", usagef("server %q has no scheme: write https://%s, or http://%s for a server without TLS", s, s, s)
	}
	if scheme != "http" && scheme != "https" || rest == "" {
		return "", usagef("server %q: want http://HOST[:PORT] or https://HOST[:PORT]", s)
	}
	return s, nil
}
