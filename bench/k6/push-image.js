// push-image: the CI pattern. Every iteration pushes a brand-new image
// (LAYERS layers of 16-512 KiB random bytes, a config, an OCI manifest and
// a new tag) into one of REPOS repositories.
//
//   k6 run -e REGISTRY=http://127.0.0.1:5000 -e VUS=16 -e DURATION=30s bench/k6/push-image.js
//
// Credentials: REGISTRY_USERNAME / REGISTRY_PASSWORD (Basic, or exchanged
// for a Bearer token when the registry asks for one). Other knobs: REPOS
// (8), LAYERS (4), PREFIX (k6/image).
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { constantVUs, pushImage } from './lib/registry.js';

const REPOS = parseInt(__ENV.REPOS || '8', 10);
const LAYERS = parseInt(__ENV.LAYERS || '4', 10);
const PREFIX = __ENV.PREFIX || 'k6/image';

export const options = constantVUs('push_image', 16);

const imagePush = new Trend('image_push_duration', true);
const imagesPushed = new Counter('images_pushed');

function size() {
  return 16 * 1024 + Math.floor(Math.random() * (512 - 16 + 1) * 1024);
}

export default function () {
  const repo = `${PREFIX}/r${String(__ITER % REPOS).padStart(2, '0')}`;
  const tag = `vu${__VU}-it${__ITER}-${Date.now()}`;
  const sizes = Array.from({ length: LAYERS }, size);
  const t0 = Date.now();
  const m = pushImage(repo, tag, sizes);
  imagePush.add(Date.now() - t0);
  imagesPushed.add(1);
  check(m, { 'manifest digest returned': (x) => x.digest.startsWith('sha256:') });
}
