package servertest

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"git.wntrmute.dev/kyle/mcr/engine/identity"
	"git.wntrmute.dev/kyle/mcr/http/adminapi/apiv1"
)

// Media types the tests push.
const (
	OCIManifest = "application/vnd.oci.image.manifest.v1+json"
	OCIIndex    = "application/vnd.oci.image.index.v1+json"
)

// PushBlob uploads data monolithically and returns its digest; hdr (an
// Authorization, say) goes with the request.
func (tr *Registry) PushBlob(repo string, data []byte, hdr ...string) digest.Digest {
	tr.T.Helper()
	d := digest.FromBytes(data)
	r := tr.Do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data, append([]string{"Content-Type", "application/octet-stream"}, hdr...)...)
	tr.Expect(r, 201, "", "push blob")
	return d
}

// Image pushes a config and layers (random, 1000 bytes each) to repo and
// returns the manifest bytes (not pushed); extra is appended to the
// manifest's fields.
func (tr *Registry) Image(repo string, layers int, extra string) []byte {
	tr.T.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"` + digest.FromBytes(RandomBytes(8)).Encoded() + `"}`)
	cd := tr.PushBlob(repo, cfg)
	var ls []string
	for range layers {
		d := tr.PushBlob(repo, RandomBytes(1000))
		ls = append(ls, `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"`+d.String()+`","size":1000}`)
	}
	return []byte(`{"schemaVersion":2,"mediaType":"` + OCIManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cd.String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[` + strings.Join(ls, ",") + `]` + extra + `}`)
}

// PutManifest puts body as ref in repo.
func (tr *Registry) PutManifest(repo, ref string, body []byte, mediaType string, hdr ...string) Resp {
	tr.T.Helper()
	return tr.Do("PUT", "/v2/"+repo+"/manifests/"+ref, body, append([]string{"Content-Type", mediaType}, hdr...)...)
}

// PushImage pushes a small image to repo:tag with the credential and
// returns the first answer that is not a success, or the manifest's.
func (tr *Registry) PushImage(cred, repo, tag string) Resp {
	tr.T.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := RandomBytes(300)
	for _, b := range [][]byte{cfg, layer} {
		r := tr.Do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, "Authorization", cred)
		if r.Status != 201 {
			return r
		}
	}
	m := `{"schemaVersion":2,"mediaType":"` + OCIManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromBytes(cfg).String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` +
		digest.FromBytes(layer).String() + `","size":` + strconv.Itoa(len(layer)) + `}]}`
	return tr.PutManifest(repo, tag, []byte(m), OCIManifest, "Authorization", cred)
}

// Basic is a Basic Authorization value.
func Basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Bearer is a Bearer Authorization value.
func Bearer(tok string) string { return "Bearer " + tok }

// TokenResp is the token endpoint's answer.
type TokenResp struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// Token fetches a token with GET and Basic credentials (cred "" for none).
func (tr *Registry) Token(cred string, scopes ...string) TokenResp {
	tr.T.Helper()
	q := url.Values{"service": {Service}, "scope": scopes}
	var hdr []string
	if cred != "" {
		hdr = []string{"Authorization", cred}
	}
	r := tr.Do("GET", "/v2/token?"+q.Encode(), nil, hdr...)
	tr.Expect(r, 200, "", "token "+strings.Join(scopes, " "))
	var tok TokenResp
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		tr.T.Fatalf("token reply %s: %v", r.Body, err)
	}
	return tok
}

// Challenge parses a WWW-Authenticate Bearer header into its parameters.
func Challenge(t testing.TB, r Resp) map[string]string {
	t.Helper()
	h := r.Header.Get("WWW-Authenticate")
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("WWW-Authenticate %q is not a Bearer challenge", h)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(rest, `",`) {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = strings.Trim(v, `"`)
	}
	return out
}

// API sends an admin API request, requires the status, and decodes the
// answer into out (when not nil).
func (tr *Registry) API(cred, method, path, body string, status int, out any) Resp {
	tr.T.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	var hdr []string
	if cred != "" {
		hdr = []string{"Authorization", cred}
	}
	r := tr.Do(method, apiv1.Prefix+path, b, hdr...)
	if r.Status != status {
		tr.T.Fatalf("%s %s: status %d (%s), want %d", method, path, r.Status, Truncate(r.Body), status)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			tr.T.Fatalf("%s %s: decoding %s: %v", method, path, Truncate(r.Body), err)
		}
	}
	return r
}

// APIError asserts an admin API error answer's status and code.
func (tr *Registry) APIError(cred, method, path, body string, status int, code string) apiv1.ErrorBody {
	tr.T.Helper()
	var e apiv1.Error
	tr.API(cred, method, path, body, status, &e)
	if e.Error.Code != code || e.Error.Message == "" {
		tr.T.Errorf("%s %s: error %+v, want code %s", method, path, e.Error, code)
	}
	return e.Error
}

// NewAdmin serves a registry with the admin services and an admin account
// "root", and returns root's credential.
func NewAdmin(t testing.TB) (*Registry, string) {
	t.Helper()
	tr := Serve(t, Config{Auth: &Setup{Admin: true}})
	tr.Account("root", identity.Human, identity.RoleAdmin)
	return tr, Basic("root", Password("root"))
}
