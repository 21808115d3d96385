// Seeded pseudo-random numbers: mulberry32 streams, and seeds derived from (seed, epoch, index)
// so that a sample's augmentation does not depend on the order in which loads complete.
import { must } from '../must';

/** A uniform generator on [0, 1). */
export type Rng = () => number;

/** mulberry32: a 32-bit state generator; good enough for augmentation and procedural images. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes several integers into one 32-bit seed (a murmur3-style finaliser per part). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    let k = Math.imul((part | 0) ^ Math.floor(part / 4294967296), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** An integer uniform on [lo, hiExclusive), as numpy's randint(lo, hi). */
export function randint(rng: Rng, lo: number, hiExclusive: number): number {
  return lo + Math.floor(rng() * (hiExclusive - lo));
}

/** One element of a non-empty list, uniformly. */
export function choice<T>(rng: Rng, items: readonly T[]): T {
  return must(items[Math.floor(rng() * items.length)], 'choice from an empty list');
}

/** A permutation of 0..n-1 (Fisher-Yates). */
export function permutation(rng: Rng, n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = out[i]!; // j <= i < n
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
