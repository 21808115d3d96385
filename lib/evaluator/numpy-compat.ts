// Float64 arithmetic that reproduces what numpy does in pycocotools, so that
// our statistics are bit-identical to COCOeval rather than merely close.

/** np.spacing(1): the gap between 1.0 and the next double (2^-52). */
export const NP_SPACING_1 = Number.EPSILON;

/**
 * np.linspace(start, stop, num) for float64: `i * step + start` with
 * `step = (stop - start) / (num - 1)`, the last value forced to `stop`.
 * (This is why the IoU thresholds contain 0.8999999999999999.)
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const step = (stop - start) / div;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

const PAIRWISE_BLOCK = 128;

/**
 * numpy's pairwise summation of `a[lo, lo + n)` (the float64 add.reduce inner
 * loop): plain loop under 8 elements, 8 interleaved accumulators up to 128,
 * recursive halving (on a multiple of 8) above.
 */
export function pairwiseSum(a: ArrayLike<number>, lo: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[lo + i]!;
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    let r0 = a[lo]!, r1 = a[lo + 1]!, r2 = a[lo + 2]!, r3 = a[lo + 3]!;
    let r4 = a[lo + 4]!, r5 = a[lo + 5]!, r6 = a[lo + 6]!, r7 = a[lo + 7]!;
    const unrolledEnd = n - (n % 8);
    let i = 8;
    for (; i < unrolledEnd; i += 8) {
      const p = lo + i;
      r0 += a[p]!; r1 += a[p + 1]!; r2 += a[p + 2]!; r3 += a[p + 3]!;
      r4 += a[p + 4]!; r5 += a[p + 5]!; r6 += a[p + 6]!; r7 += a[p + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[lo + i]!;
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, lo, half) + pairwiseSum(a, lo + half, n - half);
}

/**
 * `np.mean(s[s > -1])` as COCOeval.summarize computes it; -1 when no entry
 * is defined. `values` must already be in numpy's C order of the sliced array.
 */
export function meanOfDefined(values: Float64Array): number {
  let n = 0;
  const kept = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > -1) kept[n++] = v;
  }
  if (n === 0) return -1;
  return pairwiseSum(kept, 0, n) / n;
}
