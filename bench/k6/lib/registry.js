// Shared helpers for the k6 scripts: a tiny OCI Distribution client with
// Docker-style authentication (anonymous, Basic, or Bearer tokens from the
// realm the registry advertises), credentials from the environment.
//
//   REGISTRY           base URL, default http://127.0.0.1:5000
//   REGISTRY_USERNAME  optional user
//   REGISTRY_PASSWORD  optional password
import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { fail } from 'k6';

export const BASE = (__ENV.REGISTRY || 'http://127.0.0.1:5000').replace(/\/+$/, '');
const USER = __ENV.REGISTRY_USERNAME || '';
const PASS = __ENV.REGISTRY_PASSWORD || '';

// constantVUs is the options of a script: one scenario, name, of VUS
// virtual users (default vus) for DURATION (default 30s), and a run that
// fails on any failed check or request, so a broken registry cannot pass
// for a fast one.
export function constantVUs(name, vus) {
  return {
    scenarios: {
      [name]: {
        executor: 'constant-vus',
        vus: parseInt(__ENV.VUS || String(vus), 10),
        duration: __ENV.DURATION || '30s',
      },
    },
    thresholds: {
      checks: ['rate==1.0'],
      http_req_failed: ['rate==0'],
    },
  };
}

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const ACCEPT = [
  MANIFEST_TYPE,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

// Per-VU token cache: scope -> { token, expires }.
const tokens = {};

function basic() {
  return 'Basic ' + encoding.b64encode(`${USER}:${PASS}`);
}

// parseChallenge reads `Bearer realm="...",service="...",scope="..."`.
function parseChallenge(h) {
  const out = {};
  const m = /^\s*(\w+)\s+(.*)$/.exec(h || '');
  if (!m) return null;
  out.scheme = m[1].toLowerCase();
  const re = /(\w+)="([^"]*)"/g;
  let kv;
  while ((kv = re.exec(m[2])) !== null) out[kv[1]] = kv[2];
  return out;
}

function fetchToken(ch, scope) {
  let url = `${ch.realm}?service=${encodeURIComponent(ch.service || '')}`;
  if (scope) url += `&scope=${encodeURIComponent(scope)}`;
  const headers = USER ? { Authorization: basic() } : {};
  const res = http.get(url, { headers, tags: { name: 'token' } });
  if (res.status !== 200) fail(`token endpoint ${ch.realm}: status ${res.status}`);
  const body = res.json();
  const token = body.token || body.access_token;
  if (!token) fail('token endpoint answered without a token');
  const ttl = (body.expires_in || 60) * 1000;
  tokens[scope] = { token, expires: Date.now() + ttl * 0.8 };
  return token;
}

// request sends one request with the right credentials for scope and
// retries once after a 401 with a fresh token.
export function request(method, url, body, params, scope) {
  params = Object.assign({ headers: {} }, params || {});
  params.headers = Object.assign({}, params.headers);
  const cached = tokens[scope];
  if (cached && cached.expires > Date.now()) {
    params.headers.Authorization = `Bearer ${cached.token}`;
  } else if (USER) {
    params.headers.Authorization = basic();
  }
  let res = http.request(method, url.startsWith('http') ? url : BASE + url, body, params);
  if (res.status === 401) {
    const ch = parseChallenge(res.headers['Www-Authenticate']);
    if (ch && ch.scheme === 'bearer' && ch.realm) {
      params.headers.Authorization = `Bearer ${fetchToken(ch, ch.scope || scope)}`;
      res = http.request(method, url.startsWith('http') ? url : BASE + url, body, params);
    }
  }
  return res;
}

export function digestOf(data) {
  return 'sha256:' + crypto.sha256(data, 'hex');
}

function expect(res, status, what) {
  if (res.status !== status) {
    fail(`${what}: status ${res.status}, want ${status}: ${String(res.body || '').slice(0, 200)}`);
  }
}

// pushBlob uploads data (ArrayBuffer or string) as POST then PUT ?digest=.
export function pushBlob(repo, data, scope) {
  const digest = digestOf(data);
  // 404 is the expected answer for a new blob: not a failed request.
  const head = request('HEAD', `/v2/${repo}/blobs/${digest}`, null, {
    tags: { name: 'blob HEAD' },
    responseCallback: http.expectedStatuses(200, 404),
  }, scope);
  if (head.status === 200) return digest;
  const post = request('POST', `/v2/${repo}/blobs/uploads/`, null, { tags: { name: 'upload POST' } }, scope);
  expect(post, 202, `POST upload to ${repo}`);
  const loc = post.headers.Location;
  if (!loc) fail(`POST upload to ${repo}: no Location`);
  const sep = loc.includes('?') ? '&' : '?';
  const put = request('PUT', `${loc}${sep}digest=${encodeURIComponent(digest)}`, data, {
    headers: { 'Content-Type': 'application/octet-stream' },
    tags: { name: 'upload PUT' },
  }, scope);
  expect(put, 201, `PUT blob ${digest} to ${repo}`);
  const got = put.headers['Docker-Content-Digest'];
  if (got && got !== digest) fail(`PUT blob: registry answered digest ${got}, want ${digest}`);
  return digest;
}

// pushManifest PUTs a manifest under ref and checks the digest answered.
export function pushManifest(repo, ref, manifest, scope) {
  const body = JSON.stringify(manifest);
  const digest = digestOf(body);
  const res = request('PUT', `/v2/${repo}/manifests/${ref}`, body, {
    headers: { 'Content-Type': MANIFEST_TYPE },
    tags: { name: 'manifest PUT' },
  }, scope);
  expect(res, 201, `PUT manifest ${repo}:${ref}`);
  const got = res.headers['Docker-Content-Digest'];
  if (got && got !== digest) fail(`PUT manifest: registry answered digest ${got}, want ${digest}`);
  return { digest, size: body.length };
}

// randomLayer is n random bytes.
export function randomLayer(n) {
  return crypto.randomBytes(n);
}

// pushImage pushes layers of the given sizes, a config and an OCI manifest
// tagged tag; it returns the manifest digest.
export function pushImage(repo, tag, sizes) {
  const scope = `repository:${repo}:pull,push`;
  const layers = sizes.map((n) => {
    const data = randomLayer(n);
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: pushBlob(repo, data, scope), size: n };
  });
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    // __ITER does not exist in setup(); the random label keeps configs unique.
    config: { Labels: { 'k6.vu': String(__VU), 'k6.nonce': String(Math.random()), 'k6.t': String(Date.now()) } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: pushBlob(repo, config, scope), size: config.length };
  return pushManifest(repo, tag, { schemaVersion: 2, mediaType: MANIFEST_TYPE, config: cfg, layers }, scope);
}
