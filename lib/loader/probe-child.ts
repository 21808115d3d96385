// Run in a child process by ./probe.ts: loads one candidate addon (after preloading its
// libtorch), reads buildInfo() and solves one 2×2 assignment, then prints one JSON line. A
// binary that crashes (wrong CUDA, SIGILL, a broken file) takes only this process down.
import { loadCandidate } from './load';
import type { Candidate } from './load';
import type { AddonBinding } from '../binding';

const candidate = JSON.parse(process.argv[2] ?? '{}') as Candidate;
try {
  const addon = loadCandidate(candidate) as Pick<AddonBinding, 'buildInfo' | 'lsaSolve'>;
  const info = addon.buildInfo();
  const { totalCost } = addon.lsaSolve({ data: Float64Array.of(4, 1, 2, 3), rows: 2, cols: 2 }, false);
  if (totalCost !== 3) throw new Error(`the probe's 2×2 assignment gave ${totalCost}, expected 3`);
  if (candidate.variant === 'cuda' && info.cudaAvailable !== true) throw new Error('loaded, but libtorch sees no usable CUDA device');
  process.stdout.write(`${JSON.stringify({ ok: true, info })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
}
