// Loading one candidate addon: preload its libtorch by absolute path through the first-stage
// loader (bin/align_detr_preload.node, which links no torch), then require the addon.
import * as path from 'node:path';

/** One addon the loader may try, with what it needs loaded first. */
export interface Candidate {
  /** Where it comes from, e.g. "@align-detr/linux-x64", "build-cmake/Release". */
  label: string;
  file: string;
  variant?: 'cpu' | 'cuda';
  /** Absolute paths of libraries to dlopen (RTLD_GLOBAL) before the addon, in order. */
  preload: string[];
  /** Load in a child process first (a crash there cannot kill this process). */
  probe?: boolean;
}

interface Preloader {
  preload(paths: string[]): string[];
}

/** The first-stage loader beside `addonFile`. */
export function preloaderFor(addonFile: string): Preloader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(path.dirname(addonFile), 'align_detr_preload.node')) as Preloader;
}

export function loadCandidate(c: Candidate): unknown {
  if (c.preload.length > 0) preloaderFor(c.file).preload(c.preload);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(c.file);
}
