// What the TypeScript benchmarks share: command-line options, the machine's description,
// timing, and a seeded random stream for synthetic inputs.
import * as os from 'node:os';

/** Seeded generator (mulberry32, the library's own) for reproducible synthetic inputs. */
export { mulberry32 as rng } from '../lib/data/rng';

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

/** The number after `--name` on the command line, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  return Number(arg(name, String(fallback)));
}

/** Whether the bare flag `--name` is on the command line. */
export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** "CPU model, N logical CPUs" for the benchmark's machine line. */
export function cpuSummary(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} logical CPUs`;
}

/** Wall time of `fn` in milliseconds, with its result. */
export function timed<T>(fn: () => T): { ms: number; result: T } {
  const start = process.hrtime.bigint();
  const result = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

/** Median and minimum wall time (ms) of `repeats` awaited calls of `fn`, after one warm-up call. */
export async function timeAsync(fn: () => Promise<unknown>, repeats: number): Promise<{ median: number; min: number }> {
  await fn(); // warm-up (allocator, oneDNN kernels)
  const t: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)]!, min: t[0]! };
}
