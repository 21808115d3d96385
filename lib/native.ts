// Loads the native addon: chooses a binary, loads its libtorch first, then the addon.
//
// Resolution order (the first that loads wins; every failure is kept for the error):
//   1. ALIGN_DETR_ADDON: an explicit path to a built `.node` (development, custom builds);
//   2. the platform packages of a published install (./loader/packages.ts):
//        - the CUDA variant, when ALIGN_DETR_VARIANT=cuda, or by default when a GPU is visible:
//          its libtorch is found (./loader/libtorch.ts) and the binary must pass a probe in a
//          child process (load, buildInfo(), one tiny op) before it is loaded here;
//        - the CPU variant with the bundled libtorch (ALIGN_DETR_VARIANT=cpu selects only it);
//      the libtorch libraries are dlopened by absolute path (first-stage loader) before the
//      addon, so neither LD_LIBRARY_PATH nor a system libtorch can be picked up instead;
//   3. prebuilds/<platform>-<arch>/ in this package (node-gyp-build's matching; ALIGN_DETR_PREBUILD);
//   4. the local builds: build/Release (binding.gyp shim: `node-gyp rebuild`, which the install
//      script runs when no platform package matches), then build-cmake/Release (`npm run build:native`).
// When nothing loads, the error lists each candidate and why, and the one command that fixes it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CPU_LIBRARIES, findCudaLibtorch, gpuVisible, CUDA_LIBRARIES } from './loader/libtorch';
import type { LibtorchRoot } from './loader/libtorch';
import { loadCandidate } from './loader/load';
import type { Candidate } from './loader/load';
import { addonPackageName, findAddonPackage, findLibtorchPackage, libtorchPackageName } from './loader/packages';
import type { Variant } from './loader/packages';
import { probeCandidate } from './loader/probe';

/** The raw addon, untyped: lib/ modules reach it through ./binding.ts's typed `binding()`. */
export type NativeAddon = Record<string, unknown>;

// node-gyp-build has no type declarations; these are the parts we use.
interface NodeGypBuild {
  (dir: string): unknown;
  resolve(dir: string): string;
  parseTuple(name: string): { name: string; platforms: string; architectures: string[] } | undefined;
  matchTuple(platform: string, arch: string): (tuple: unknown) => boolean;
  compareTuples(a: unknown, b: unknown): number;
  parseTags(file: string): unknown;
  matchTags(runtime: string, abi: string): (tags: unknown) => boolean;
  compareTags(runtime: string): (a: unknown, b: unknown) => number;
}

/** The package root (the folder holding package.json), from dist/lib/ or lib/. */
export const packageRoot: string = findPackageRoot(__dirname);

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      try {
        if (JSON.parse(fs.readFileSync(candidate, 'utf8')).name === 'align-detr') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start, '..', '..');
    dir = parent;
  }
}

/** This package's version (platform packages must match it). */
export const packageVersion: string = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The prebuilt binary for this platform, chosen with node-gyp-build's own matching rules. */
function findPrebuild(root: string, ngb: NodeGypBuild): string | undefined {
  const prebuilds = path.join(root, 'prebuilds');
  const tuple = readdir(prebuilds)
    .map((name) => ngb.parseTuple(name))
    .filter((t): t is NonNullable<typeof t> => t !== undefined)
    .filter(ngb.matchTuple(os.platform(), os.arch()))
    .sort(ngb.compareTuples)[0];
  if (!tuple) return undefined;
  const folder = path.join(prebuilds, tuple.name);
  const runtime = process.versions.electron ? 'electron' : 'node';
  const winner = readdir(folder)
    .map((file) => ngb.parseTags(file))
    .filter((tags): tags is { file: string } => tags !== undefined)
    .filter(ngb.matchTags(runtime, process.versions.modules))
    .sort(ngb.compareTags(runtime))[0];
  return winner ? path.join(folder, winner.file) : undefined;
}

/** A candidate the loader considered, usable or not. */
export interface CandidateReport {
  label: string;
  file?: string;
  variant?: Variant;
  libtorch?: LibtorchRoot | { root: string; source: string; version?: string };
  /** Why it cannot be used (before any load attempt). */
  problem?: string;
  candidate?: Candidate;
}

function requestedVariant(): Variant | undefined {
  const v = process.env.ALIGN_DETR_VARIANT;
  if (v === undefined || v === '') return undefined;
  if (v !== 'cpu' && v !== 'cuda') throw new Error(`align-detr: ALIGN_DETR_VARIANT must be 'cpu' or 'cuda', got '${v}'`);
  return v;
}

function cudaCandidate(from: string[]): CandidateReport {
  const label = addonPackageName('cuda');
  const pkg = findAddonPackage('cuda', from, packageVersion);
  if (!pkg.info || pkg.problem) return { label, variant: 'cuda', problem: pkg.problem };
  const file = path.join(pkg.info.binsDir, 'align_detr.node');
  const search = findCudaLibtorch(pkg.info.libtorch.version, pkg.info.libtorch.cuda);
  if (!search.found) {
    return {
      label,
      file,
      variant: 'cuda',
      problem:
        `no compatible CUDA libtorch ${pkg.info.libtorch.version} found (${search.tried.join('; ')}); ` +
        `run \`npx align-detr install-libtorch --cuda ${pkg.info.libtorch.cuda ?? '12.8'}\` or set ALIGN_DETR_LIBTORCH`,
    };
  }
  const preload = CUDA_LIBRARIES.map((l) => path.join(search.found!.libDir, l));
  return { label, file, variant: 'cuda', libtorch: search.found, candidate: { label, file, variant: 'cuda', preload, probe: true } };
}

function cpuCandidate(from: string[]): CandidateReport {
  const label = addonPackageName('cpu');
  const pkg = findAddonPackage('cpu', from, packageVersion);
  if (!pkg.info || pkg.problem) return { label, variant: 'cpu', problem: pkg.problem };
  const file = path.join(pkg.info.binsDir, 'align_detr.node');
  const lt = findLibtorchPackage([pkg.dir!, ...from], packageVersion);
  if (!lt.info || lt.problem) return { label, file, variant: 'cpu', problem: `${libtorchPackageName()}: ${lt.problem}` };
  const libs = lt.info.libraries.length > 0 ? lt.info.libraries : CPU_LIBRARIES;
  const preload = libs.map((l) => path.join(lt.info!.libDir, l));
  return {
    label,
    file,
    variant: 'cpu',
    libtorch: { root: path.dirname(lt.info.libDir), source: libtorchPackageName(), version: lt.info.version },
    candidate: { label, file, variant: 'cpu', preload },
  };
}

/** Every candidate, in the order they are tried, with the reason a candidate is unusable. */
export function describeCandidates(root: string = packageRoot): CandidateReport[] {
  const explicit = process.env.ALIGN_DETR_ADDON;
  if (explicit) {
    const file = path.resolve(explicit);
    return [{ label: 'ALIGN_DETR_ADDON', file, candidate: { label: 'ALIGN_DETR_ADDON', file, preload: [] } }];
  }
  const out: CandidateReport[] = [];
  const from = [root, path.dirname(root)];
  const want = requestedVariant();
  if (want === 'cuda' || (want === undefined && gpuVisible().visible)) out.push(cudaCandidate(from));
  if (want === 'cpu' || want === undefined) out.push(cpuCandidate(from));
  if (want !== undefined) return out;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ngb = require('node-gyp-build') as NodeGypBuild;
  const prebuild = process.env.ALIGN_DETR_PREBUILD ? ngb.resolve(root) : findPrebuild(root, ngb);
  if (prebuild) out.push({ label: 'prebuilds/', file: prebuild, candidate: { label: 'prebuilds/', file: prebuild, preload: [] } });
  for (const dir of ['build/Release', 'build/Debug', 'build-cmake/Release']) {
    const f = readdir(path.join(root, dir)).find((n) => n === 'align_detr.node');
    if (f) {
      const file = path.join(root, dir, f);
      out.push({ label: dir, file, candidate: { label: dir, file, preload: [] } });
    }
  }
  return out;
}

let cached: NativeAddon | undefined;
let loadedFrom: CandidateReport | undefined;

/** Which candidate the loaded addon came from (undefined before the first load). */
export function loadedCandidate(): CandidateReport | undefined {
  return loadedFrom;
}

const FIX =
  'Fix: `npm install align-detr` on linux-x64 (glibc) brings a prebuilt binary and its libtorch; elsewhere ' +
  'it builds from source on install, which needs cmake, a C++17 compiler and a libtorch (LIBTORCH=/path/to/libtorch, ' +
  "python3's torch, or `sudo apt-get install -y libtorch-dev libgloo-dev` on Debian/Ubuntu): " +
  'rerun it with `npm rebuild align-detr`, or in a checkout `npm run build:native`. `npx align-detr doctor` shows what was found.';

/** Loads (once per JS environment) and returns the native addon. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const reports = describeCandidates();
  const failures: string[] = [];
  for (const r of reports) {
    if (!r.candidate) {
      failures.push(`${r.label}: ${r.problem ?? 'unusable'}`);
      continue;
    }
    if (r.candidate.probe) {
      const probe = probeCandidate(r.candidate);
      if (!probe.ok) {
        failures.push(`${r.label} (${r.file}): failed its probe: ${probe.error}`);
        if (r.variant === 'cuda' && process.env.ALIGN_DETR_VARIANT !== 'cuda') {
          process.emitWarning(`align-detr: the CUDA binary failed its probe (${probe.error}); using the CPU binary`, 'AlignDetrWarning');
        }
        continue;
      }
    }
    try {
      cached = loadCandidate(r.candidate) as NativeAddon;
      loadedFrom = r;
      return cached;
    } catch (err) {
      failures.push(`${r.label} (${r.file}): ${(err as Error).message}`);
    }
  }
  if (reports.length === 0) {
    failures.push(`no binary for ${os.platform()}-${os.arch()} (no platform package, nothing in prebuilds/, build/Release or build-cmake/Release under ${packageRoot})`);
  }
  throw new Error(`align-detr: the native addon could not be loaded. Tried:\n  - ${failures.join('\n  - ')}\n${FIX}`);
}
