// pull-manifest: GET (and HEAD) of one manifest by tag from many
// connections. setup() pushes a small image first unless IMAGE names one
// (repo:tag) that exists.
//
//   k6 run -e REGISTRY=http://127.0.0.1:5000 -e VUS=64 -e DURATION=30s bench/k6/pull-manifest.js
//
// Credentials: REGISTRY_USERNAME / REGISTRY_PASSWORD. METHOD=GET (default),
// HEAD or BOTH.
import { check, fail } from 'k6';
import { ACCEPT, constantVUs, digestOf, pushImage, request } from './lib/registry.js';

const METHOD = (__ENV.METHOD || 'GET').toUpperCase();

export const options = constantVUs('pull_manifest', 64);

export function setup() {
  let repo = 'k6/pull';
  let tag = 'latest';
  if (__ENV.IMAGE) {
    const i = __ENV.IMAGE.lastIndexOf(':');
    if (i <= 0) fail(`IMAGE=${__ENV.IMAGE}: want repo:tag`);
    repo = __ENV.IMAGE.slice(0, i);
    tag = __ENV.IMAGE.slice(i + 1);
  } else {
    pushImage(repo, tag, [32 * 1024, 64 * 1024]);
  }
  const scope = `repository:${repo}:pull`;
  const res = request('GET', `/v2/${repo}/manifests/${tag}`, null, { headers: { Accept: ACCEPT } }, scope);
  if (res.status !== 200) fail(`GET ${repo}:${tag}: status ${res.status}`);
  return { repo, tag, scope, digest: res.headers['Docker-Content-Digest'], size: res.body.length };
}

function get(d) {
  const res = request('GET', `/v2/${d.repo}/manifests/${d.tag}`, null, {
    headers: { Accept: ACCEPT },
    tags: { name: 'manifest GET' },
  }, d.scope);
  check(res, {
    'GET 200': (r) => r.status === 200,
    'GET digest matches': (r) => r.headers['Docker-Content-Digest'] === d.digest && digestOf(r.body) === d.digest,
  });
}

function head(d) {
  const res = request('HEAD', `/v2/${d.repo}/manifests/${d.tag}`, null, {
    headers: { Accept: ACCEPT },
    tags: { name: 'manifest HEAD' },
  }, d.scope);
  check(res, {
    'HEAD 200': (r) => r.status === 200,
    'HEAD digest matches': (r) => r.headers['Docker-Content-Digest'] === d.digest,
    'HEAD length matches': (r) => parseInt(r.headers['Content-Length'], 10) === d.size,
  });
}

export default function (d) {
  if (METHOD === 'GET' || METHOD === 'BOTH') get(d);
  if (METHOD === 'HEAD' || METHOD === 'BOTH') head(d);
}
