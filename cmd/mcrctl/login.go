package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

const (
	// apiScope is the token scope of the admin API (docs/api.md).
	apiScope = "registry:api:*"
	// clientID names mcrctl to the token endpoint (RFC 6749 §2.2).
	clientID = "mcrctl"
)

// tokenReply is the token endpoint's answer (http/auth/token.go): "token"
// for Docker clients, "access_token" for OAuth2 ones.
type tokenReply struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func (t tokenReply) token() string {
	if t.AccessToken != "" {
		return t.AccessToken
	}
	return t.Token
}

// bearerChallenge is a WWW-Authenticate: Bearer challenge (RFC 6750 §3).
type bearerChallenge struct {
	realm, service string
}

// challenge asks GET /api/v1/status without credentials: nil when the
// server answers 200 (auth mode none), the Bearer challenge of its 401.
func (c *client) challenge(ctx context.Context) (*bearerChallenge, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+apiv1.Prefix+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil, nil
	case http.StatusUnauthorized:
	default:
		return nil, decodeError(resp.StatusCode, b)
	}
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		scheme, params := parseChallenge(h)
		if strings.EqualFold(scheme, "Bearer") && params["realm"] != "" {
			return &bearerChallenge{realm: params["realm"], service: params["service"]}, nil
		}
	}
	return nil, fmt.Errorf("%s answered 401 without a Bearer challenge: is it an mcr registry?", c.base)
}

// parseChallenge splits `Scheme k="v",k2=v2` into the scheme and its
// parameters; quoted values may hold commas and \-escapes (RFC 9110 §11.2).
func parseChallenge(h string) (string, map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, ", ") {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimLeft(v, " ")
		var val strings.Builder
		if strings.HasPrefix(v, `"`) {
			i := 1
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				val.WriteByte(v[i])
			}
			rest = v[min(i+1, len(v)):]
		} else {
			end := strings.IndexByte(v, ',')
			if end < 0 {
				end = len(v)
			}
			val.WriteString(strings.TrimSpace(v[:end]))
			rest = v[end:]
		}
		params[k] = val.String()
	}
	return scheme, params
}

// postToken posts form to the token endpoint realm.
func (c *client) postToken(ctx context.Context, realm string, form url.Values) (tokenReply, error) {
	var tr tokenReply
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, realm, strings.NewReader(form.Encode()))
	if err != nil {
		return tr, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return tr, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return tr, fmt.Errorf("token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return tr, decodeError(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		return tr, fmt.Errorf("token endpoint: %w", err)
	}
	if tr.token() == "" {
		return tr, errors.New("token endpoint answered without a token")
	}
	return tr, nil
}

func loginCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry and save a refresh token (never the password) in the config file",
		ArgsUsage: "URL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "account name (asked for when missing)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input (all of it, less a final newline)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 1 {
				return usagef("login takes the registry URL")
			}
			server, err := normalizeServer(cmd.Args().First())
			if err != nil {
				return err
			}
			path, err := configPath(cmd, s)
			if err != nil {
				return err
			}
			c := &client{base: server, hc: &http.Client{}, timeout: cmd.Duration("timeout")}
			ch, err := c.challenge(ctx)
			if err != nil {
				return err
			}
			if ch == nil {
				if err := saveConfig(path, fileConfig{Server: server}); err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s needs no credentials (auth mode none); saved the server in %s\n", server, path)
				return nil
			}
			user, pw, err := credentials(cmd, s)
			if err != nil {
				return err
			}
			tr, err := c.postToken(ctx, ch.realm, url.Values{
				"grant_type":  {"password"},
				"username":    {user},
				"password":    {pw},
				"service":     {ch.service},
				"client_id":   {clientID},
				"access_type": {"offline"},
				"scope":       {apiScope},
			})
			if err != nil {
				return err
			}
			if tr.RefreshToken == "" {
				return errors.New("the token endpoint issued no refresh token")
			}
			cfg := fileConfig{Server: server, Username: user, RefreshToken: tr.RefreshToken, Realm: ch.realm, Service: ch.service}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "logged in to %s as %s; saved in %s\n", server, user, path)
			return nil
		},
	}
}

// credentials reads the username (flag or prompt) and the password
// (standard input, with or without a prompt).
func credentials(cmd *cli.Command, s *streams) (string, string, error) {
	in := bufio.NewReader(s.In)
	user := cmd.String("username")
	if cmd.Bool("password-stdin") {
		if user == "" {
			return "", "", usagef("--password-stdin needs --username")
		}
		pw, err := readStdinSecret(s)
		if err != nil {
			return "", "", err
		}
		return user, pw, nil
	}
	if user == "" {
		fmt.Fprint(s.Err, "Username: ")
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", "", fmt.Errorf("reading the username: %w", err)
		}
		user = strings.TrimSpace(line)
	}
	fmt.Fprint(s.Err, "Password: ")
	pw, err := readPassword(s.In, in)
	fmt.Fprintln(s.Err)
	if err != nil {
		return "", "", fmt.Errorf("reading the password: %w", err)
	}
	if user == "" || pw == "" {
		return "", "", usagef("a username and a password are needed")
	}
	return user, pw, nil
}

func logoutCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:  "logout",
		Usage: "forget the saved login (removes the config file)",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			path, err := configPath(cmd, s)
			if err != nil {
				return err
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			fmt.Fprintf(s.Out, "removed %s\n", path)
			return nil
		},
	}
}
