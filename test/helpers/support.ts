// What the TypeScript tests share: fixture loading, tensor construction and read-back,
// approximate comparison, and a seeded random stream. Not a test file itself (ava runs *.test.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../../lib/index';

/** Seeded generator (mulberry32, the library's own), so failures reproduce. */
export { mulberry32 as rng } from '../../lib/data/rng';

/** test/fixtures in the source tree (the tests run from dist/test). */
export const FIXTURES_DIR = path.resolve(__dirname, '../../../test/fixtures');

/** Parses the JSON fixture at `relativePath` under test/fixtures. */
export function loadFixture<T>(relativePath: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, relativePath), 'utf8')) as T;
}

export type Float = 'float32' | 'float64';

/** A float tensor of `dtype` holding `data`. */
export function floats(data: ArrayLike<number>, shape: number[], dtype: Float): Tensor {
  return dtype === 'float64'
    ? Tensor.from(Float64Array.from(data), shape)
    : Tensor.from(Float32Array.from(data), shape);
}

/** An int64 tensor (1-D unless `shape` is given). */
export function int64(data: number[], shape: number[] = [data.length]): Tensor {
  return Tensor.from(BigInt64Array.from(data.map((x) => BigInt(x))), shape);
}

/** A tensor's elements as plain numbers. */
export function values(t: Tensor): number[] {
  return Array.from(t.toTypedArray() as ArrayLike<number>);
}

/** Largest |a − b|; Infinity when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Largest |a − b| / (|b| + floor). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < b.length; ++i) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + floor));
  return worst;
}
