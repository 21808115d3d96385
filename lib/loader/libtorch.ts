// Finding a CUDA libtorch for the CUDA addon variant (CUDA libtorch is gigabytes: never bundled).
//
// Order: ALIGN_DETR_LIBTORCH, then LIBTORCH (a libtorch root: lib/ and include/), then python3's
// `torch` when it is a CUDA build of the same major.minor version, then the per-user cache that
// `npx align-detr install-libtorch --cuda X.Y` fills ($XDG_CACHE_HOME/align-detr or
// ~/.cache/align-detr). Each step records why it was not used, for `doctor` and load errors.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface LibtorchRoot {
  root: string;
  libDir: string;
  version?: string;
  cuda?: string;
  source: string;
}

export interface LibtorchSearch {
  found?: LibtorchRoot;
  tried: string[];
}

/** The per-user cache folder for downloaded libtorch builds. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'align-detr');
}

/** The cache folder of one libtorch build. */
export function cachedLibtorchDir(version: string, cuda: string): string {
  return path.join(cacheDir(), `libtorch-${version}-cu${cuda.replace('.', '')}`, 'libtorch');
}

/** The libraries a CUDA libtorch must have, in preload order. */
export const CUDA_LIBRARIES = ['libc10.so', 'libc10_cuda.so', 'libtorch_cpu.so', 'libtorch_cuda.so', 'libtorch.so'];
export const CPU_LIBRARIES = ['libc10.so', 'libtorch_cpu.so', 'libtorch.so'];

/**
 * The version of the libtorch at `root`: from build-version (libtorch zips) or version.py (a pip
 * torch). `full` keeps the local tag ("2.13.0+cpu"), `version` is MAJOR.MINOR.PATCH, `cuda` X.Y
 * for a CUDA build. Fields are undefined when unknown. Also used by scripts/package.cjs.
 */
export function versionOf(root: string): { full?: string; version?: string; cuda?: string } {
  try {
    const full = fs.readFileSync(path.join(root, 'build-version'), 'utf8').trim(); // e.g. 2.13.0+cu128
    const m = /^(\d+\.\d+\.\d+)(?:\+cu(\d+)(\d))?/.exec(full);
    if (m) return { full, version: m[1], cuda: m[2] ? `${m[2]}.${m[3]}` : undefined };
  } catch {
    // a pip torch has version.py instead
  }
  try {
    const py = fs.readFileSync(path.join(root, 'version.py'), 'utf8');
    const full = /__version__\s*=\s*'([^']+)'/.exec(py)?.[1];
    const version = /^(\d+\.\d+\.\d+)/.exec(full ?? '')?.[1];
    const cuda = /^cuda\s*(?::\s*\S+)?\s*=\s*'([\d.]+)'/m.exec(py)?.[1];
    return { full, version, cuda };
  } catch {
    return {};
  }
}

/** Why `root` is not a usable CUDA libtorch of `wantVersion` (major.minor), or undefined if it is. */
export function checkCudaLibtorch(root: string, wantVersion: string): string | undefined {
  const libDir = path.join(root, 'lib');
  for (const lib of CUDA_LIBRARIES) {
    if (!fs.existsSync(path.join(libDir, lib))) {
      return lib === 'libtorch_cuda.so' || lib === 'libc10_cuda.so'
        ? `${root} is not a CUDA libtorch (no lib/${lib})`
        : `${root} has no lib/${lib}`;
    }
  }
  const { version } = versionOf(root);
  const want = wantVersion.split('.').slice(0, 2).join('.');
  if (version && version.split('.').slice(0, 2).join('.') !== want) {
    return `${root} is libtorch ${version}; the CUDA addon needs ${want}.x`;
  }
  return undefined;
}

/** Locates a CUDA libtorch compatible with `wantVersion` (the version the CUDA addon was built against). */
export function findCudaLibtorch(wantVersion: string, wantCuda?: string): LibtorchSearch {
  const tried: string[] = [];
  const consider = (root: string, source: string): LibtorchRoot | undefined => {
    const problem = checkCudaLibtorch(root, wantVersion);
    if (problem) {
      tried.push(`${source}: ${problem}`);
      return undefined;
    }
    return { root, libDir: path.join(root, 'lib'), ...versionOf(root), source };
  };
  for (const name of ['ALIGN_DETR_LIBTORCH', 'LIBTORCH']) {
    const v = process.env[name];
    if (v) {
      const hit = consider(path.resolve(v), `${name}=${v}`);
      if (hit) return { found: hit, tried };
    } else tried.push(`${name}: not set`);
  }
  const py = spawnSync('python3', ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(torch.version.cuda or "")'], {
    encoding: 'utf8',
    timeout: 20000,
  });
  if (py.status === 0) {
    const [dir = '', cuda] = py.stdout.trim().split('\n');
    if (!cuda) tried.push(`python3's torch (${dir}): a CPU build`);
    else {
      const hit = consider(dir, `python3's torch (${dir})`);
      if (hit) return { found: hit, tried };
    }
  } else tried.push("python3's torch: not importable");
  const cacheRoot = cacheDir();
  const entries = fs.existsSync(cacheRoot) ? fs.readdirSync(cacheRoot).filter((e) => e.startsWith('libtorch-')) : [];
  const preferred = wantCuda ? entries.sort((a, b) => Number(b.endsWith(wantCuda.replace('.', ''))) - Number(a.endsWith(wantCuda.replace('.', '')))) : entries;
  for (const e of preferred) {
    const hit = consider(path.join(cacheRoot, e, 'libtorch'), `cache ${path.join(cacheRoot, e)}`);
    if (hit) return { found: hit, tried };
  }
  if (entries.length === 0) tried.push(`cache ${cacheRoot}: empty`);
  return { tried };
}

/**
 * Whether an NVIDIA GPU and driver are visible (cheap: no CUDA call). ALIGN_DETR_GPU_VISIBLE=1|0
 * overrides the check (containers that hide /proc/driver).
 */
export function gpuVisible(): { visible: boolean; why: string } {
  const forced = process.env.ALIGN_DETR_GPU_VISIBLE;
  if (forced === '1' || forced === '0') return { visible: forced === '1', why: `ALIGN_DETR_GPU_VISIBLE=${forced}` };
  if (process.env.CUDA_VISIBLE_DEVICES === '' || process.env.CUDA_VISIBLE_DEVICES === '-1') {
    return { visible: false, why: `CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES}` };
  }
  try {
    const v = fs.readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0] ?? '';
    return { visible: true, why: v.trim() };
  } catch {
    return { visible: false, why: 'no NVIDIA driver (/proc/driver/nvidia/version absent)' };
  }
}
