// The platform packages a published install brings (the sharp / node-llama-cpp layout):
//
//   @align-detr/linux-x64            the CPU addon (bin/align_detr.node, bin/align_detr_preload.node),
//                                    built against PyTorch's CPU libtorch 2.x (cxx11 ABI);
//   @align-detr/libtorch-linux-x64   that libtorch's shared libraries (lib/: libc10, libtorch_cpu,
//                                    libtorch, libgomp), shared by every addon variant that needs it;
//   @align-detr/linux-x64-cuda       the CUDA addon; its libtorch is found at load (./libtorch.ts).
//
// Each package's index.js exports a description (below) and its package.json its version; a
// package whose version is not the main package's is ignored with the reason recorded.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Variant = 'cpu' | 'cuda';

/** What a platform addon package declares (its index.js exports). */
export interface AddonPackageInfo {
  binsDir: string;
  packageVersion: string;
  variant: Variant;
  /** The libtorch the addon was built against: version, and CUDA version for the CUDA variant. */
  libtorch: { version: string; cuda?: string; package?: string };
}

/** What the libtorch package declares. */
export interface LibtorchPackageInfo {
  libDir: string;
  packageVersion: string;
  version: string;
  /** Load order of the libraries to preload, file names under libDir. */
  libraries: string[];
}

/** A package found (or not) and why it cannot be used. */
export interface Found<T> {
  name: string;
  dir?: string;
  info?: T;
  problem?: string;
}

export function platformTag(): string {
  return `${process.platform}-${process.arch}`;
}

export function addonPackageName(variant: Variant): string {
  return `@align-detr/${platformTag()}${variant === 'cuda' ? '-cuda' : ''}`;
}

export function libtorchPackageName(): string {
  return `@align-detr/libtorch-${platformTag()}`;
}

/** Resolves `name` from the main package's location (and, failing that, from `alsoFrom`). */
function resolvePackageDir(name: string, from: string[]): string | undefined {
  for (const base of from) {
    try {
      return path.dirname(require.resolve(`${name}/package.json`, { paths: [base] }));
    } catch {
      // not installed there
    }
  }
  return undefined;
}

function readPackage<T extends { packageVersion: string }>(
  name: string,
  from: string[],
  mainVersion: string,
  check: (info: T, dir: string) => string | undefined,
): Found<T> {
  const dir = resolvePackageDir(name, from);
  if (!dir) return { name, problem: 'not installed' };
  let info: T;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    info = require(path.join(dir, 'index.js')) as T;
  } catch (err) {
    return { name, dir, problem: `its index.js fails to load (${(err as Error).message}); reinstall it` };
  }
  if (info.packageVersion !== mainVersion) {
    return { name, dir, info, problem: `version ${info.packageVersion} does not match align-detr ${mainVersion}` };
  }
  const problem = check(info, dir);
  return problem ? { name, dir, info, problem } : { name, dir, info };
}

const isFile = (f: string): boolean => {
  try {
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
};

/** The addon package of `variant`, checked for its files. */
export function findAddonPackage(variant: Variant, from: string[], mainVersion: string): Found<AddonPackageInfo> {
  return readPackage<AddonPackageInfo>(addonPackageName(variant), from, mainVersion, (info) => {
    const addon = path.join(info.binsDir, 'align_detr.node');
    if (!isFile(addon)) return `its addon ${addon} is missing (a partial install: reinstall the package)`;
    const { size } = fs.statSync(addon);
    if (size < 4096) return `its addon ${addon} is truncated (${size} bytes: reinstall the package)`;
    if (!isFile(path.join(info.binsDir, 'align_detr_preload.node'))) return `${path.join(info.binsDir, 'align_detr_preload.node')} is missing`;
    return undefined;
  });
}

/** The bundled CPU libtorch, checked for every library it lists. */
export function findLibtorchPackage(from: string[], mainVersion: string): Found<LibtorchPackageInfo> {
  return readPackage<LibtorchPackageInfo>(libtorchPackageName(), from, mainVersion, (info) => {
    for (const lib of info.libraries) {
      const file = path.join(info.libDir, lib);
      if (!isFile(file)) return `${file} is missing (a partial install: reinstall ${libtorchPackageName()})`;
    }
    return undefined;
  });
}
