// `align-detr install-libtorch --cuda X.Y`: fills the per-user cache with a CUDA libtorch for the
// CUDA addon variant (CUDA libtorch is gigabytes, so no npm package carries it).
//
//   --cuda X.Y        CUDA version of the build (12.6, 12.8, 13.0)
//   --libtorch-version V  libtorch version (default: the CUDA package's, else DEFAULT_VERSION)
//   --url URL         where to download the zip (default: PyTorch's published libtorch zips)
//   --zip FILE        an already-downloaded zip instead of a download
//   --sha256 HEX      the zip's expected SHA-256; required unless the build is pinned below,
//                     or --no-verify is given (then the computed checksum is printed, unverified)
// The zip is checked, unpacked into a temporary folder beside the target, verified to be a CUDA
// libtorch of that version, then renamed into place (an interrupted install leaves nothing used).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cachedLibtorchDir, checkCudaLibtorch } from '../loader/libtorch';

export const DEFAULT_VERSION = '2.13.0';
const CUDA_TAGS = ['12.6', '12.8', '13.0'];

/** SHA-256 of published zips, by file name; extended at release time from PyTorch's files. */
const PINNED_SHA256: Record<string, string> = {};

export interface InstallLibtorchOptions {
  cuda: string;
  version?: string;
  url?: string;
  zip?: string;
  sha256?: string;
  verify?: boolean;
  log?: (line: string) => void;
}

export function defaultUrl(version: string, cuda: string): string {
  const tag = `cu${cuda.replace('.', '')}`;
  return `https://download.pytorch.org/libtorch/${tag}/libtorch-shared-with-deps-${version}%2B${tag}.zip`;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    fs.createReadStream(file).on('data', (d) => hash.update(d)).on('end', () => resolve()).on('error', reject);
  });
  return hash.digest('hex');
}

async function download(url: string, target: string, log: (line: string) => void): Promise<void> {
  log(`downloading ${url}`);
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`download of ${url} failed: HTTP ${res.status}`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const out = fs.createWriteStream(target);
  let got = 0;
  let lastReport = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    got += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    if (total > 0 && got - lastReport > total / 20) {
      lastReport = got;
      log(`  ${Math.round((100 * got) / total)}% of ${(total / 1048576).toFixed(0)} MiB`);
    }
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

function unzip(zip: string, into: string): void {
  const u = spawnSync('unzip', ['-q', zip, '-d', into], { encoding: 'utf8' });
  if (u.status === 0) return;
  const py = spawnSync('python3', ['-m', 'zipfile', '-e', zip, into], { encoding: 'utf8' });
  if (py.status === 0) return;
  throw new Error(`cannot unpack ${zip}: ${u.error ? 'unzip is not installed' : (u.stderr || '').trim()}; ` +
    `${py.error ? 'python3 is not installed' : (py.stderr || '').trim()} (install unzip: sudo apt-get install -y unzip)`);
}

/** Installs a CUDA libtorch into the cache; returns its root. */
export async function installLibtorch(options: InstallLibtorchOptions): Promise<string> {
  const log = options.log ?? ((l: string) => console.error(l));
  const { cuda } = options;
  if (!CUDA_TAGS.includes(cuda)) throw new RangeError(`--cuda: expected one of ${CUDA_TAGS.join(', ')}, got '${cuda}'`);
  const version = options.version ?? DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new RangeError(`--version: expected MAJOR.MINOR.PATCH, got '${version}'`);
  const target = cachedLibtorchDir(version, cuda);
  const base = path.dirname(target);
  if (fs.existsSync(target) && checkCudaLibtorch(target, version) === undefined) {
    log(`already installed: ${target}`);
    return target;
  }
  fs.mkdirSync(base, { recursive: true });
  const url = options.url ?? defaultUrl(version, cuda);
  const zip = options.zip ? path.resolve(options.zip) : path.join(base, `download-${process.pid}.zip`);
  const downloaded = !options.zip;
  try {
    if (options.zip) {
      if (!fs.existsSync(zip) || !fs.statSync(zip).isFile()) throw new Error(`--zip: ${zip} is not a file`);
    } else await download(url, zip, log);
    const actual = await sha256Of(zip);
    const expected = options.sha256?.toLowerCase() ?? PINNED_SHA256[decodeURIComponent(path.basename(url))];
    if (expected) {
      if (actual !== expected) throw new Error(`checksum mismatch for ${zip}: SHA-256 ${actual}, expected ${expected}; the file is corrupt or not the build asked for`);
      log(`checksum verified (SHA-256 ${actual})`);
    } else if (options.verify === false) {
      log(`not verified (--no-verify): SHA-256 ${actual}`);
    } else {
      throw new Error(`no checksum is known for ${path.basename(zip)}: pass --sha256 HEX (the SHA-256 of the zip PyTorch publishes), or --no-verify`);
    }
    const tmp = fs.mkdtempSync(path.join(base, '.unpack-'));
    try {
      unzip(zip, tmp);
      const unpacked = fs.existsSync(path.join(tmp, 'libtorch')) ? path.join(tmp, 'libtorch') : tmp;
      const problem = checkCudaLibtorch(unpacked, version);
      if (problem) throw new Error(`${zip} does not hold a CUDA libtorch ${version}: ${problem.replace(unpacked, 'the zip')}`);
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(unpacked, target);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    if (downloaded) fs.rmSync(zip, { force: true });
  }
  log(`installed libtorch ${version} (CUDA ${cuda}) in ${target}`);
  return target;
}
