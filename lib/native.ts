// Loads the native addon.
//
// Resolution order:
//   1. ALIGN_DETR_ADDON: an explicit path to a built `.node` file (development, custom builds);
//   2. ALIGN_DETR_PREBUILD: a folder holding prebuilds/ (node-gyp-build's own override);
//   3. prebuilds/<platform>-<arch>/ matched by node-gyp-build's tag rules (published packages);
//   4. the local builds: build/Release (binding.gyp shim, i.e. `node-gyp rebuild`), then
//      build-cmake/Release (`npm run build:native`).
// A load failure says which file failed and why, and how to get libtorch when that is the cause.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The raw addon: untyped here; each lib module casts it to the slice it uses. */
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

/** Every candidate addon file, in the order they are tried. */
export function addonCandidates(root: string = packageRoot): string[] {
  const explicit = process.env.ALIGN_DETR_ADDON;
  if (explicit) return [path.resolve(explicit)];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ngb = require('node-gyp-build') as NodeGypBuild;
  if (process.env.ALIGN_DETR_PREBUILD) return [ngb.resolve(root)];
  const found: string[] = [];
  const prebuild = findPrebuild(root, ngb);
  if (prebuild) found.push(prebuild);
  for (const dir of ['build/Release', 'build/Debug', 'build-cmake/Release']) {
    const file = readdir(path.join(root, dir)).find((f) => f.endsWith('.node'));
    if (file) found.push(path.join(root, dir, file));
  }
  return found;
}

let cached: NativeAddon | undefined;

/** Loads (once per JS environment) and returns the native addon. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const candidates = addonCandidates();
  if (candidates.length === 0) {
    throw new Error(
      `align-detr: no native build was found for ${os.platform()}-${os.arch()} (looked in ` +
        `${path.join(packageRoot, 'prebuilds')}, build/Release and build-cmake/Release under ${packageRoot}). ` +
        'Build it with `npm run build:native` (needs libtorch: `sudo apt-get install -y libtorch-dev libgloo-dev` ' +
        'on Debian/Ubuntu, or LIBTORCH=/path/to/libtorch), or set ALIGN_DETR_ADDON to a built align_detr.node.',
    );
  }
  const failures: string[] = [];
  for (const file of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require(file) as NativeAddon;
      return cached;
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message}`);
    }
  }
  const libtorchMissing = failures.some((f) => /lib(torch|c10)[^ ]*\.so/.test(f));
  throw new Error(
    'align-detr: the native addon failed to load:\n  ' +
      failures.join('\n  ') +
      (libtorchMissing
        ? '\nThe libtorch it was built against is not found at run time. Install it ' +
          '(`sudo apt-get install -y libtorch-dev libgloo-dev` on Debian/Ubuntu) or add its lib/ folder to LD_LIBRARY_PATH.'
        : ''),
  );
}
