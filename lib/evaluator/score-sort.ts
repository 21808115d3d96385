// Stable descending sort of scores (numpy's argsort(-scores, kind='mergesort')),
// as an LSD radix sort on the float64 bit patterns: O(n) per category instead
// of a comparator sort, and stable by construction.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1, HI = 1 - LO;

/** Reusable buffers for {@link sortByScoreDesc}. */
export class ScoreSorter {
  private hi: Uint32Array = new Uint32Array(0);
  private lo: Uint32Array = new Uint32Array(0);
  private tmp: Int32Array = new Int32Array(0);
  private readonly count = new Int32Array(257);

  /**
   * Writes into perm[0..n) the positions 0..n-1 ordered by descending
   * score[base + p], equal scores (including -0 and +0) keeping ascending p.
   */
  sortByScoreDesc(score: Float64Array, base: number, n: number, perm: Int32Array): void {
    if (this.tmp.length < n) {
      const cap = Math.max(n, 2 * this.tmp.length);
      this.hi = new Uint32Array(cap);
      this.lo = new Uint32Array(cap);
      this.tmp = new Int32Array(cap);
    }
    const hi = this.hi, lo = this.lo;
    for (let p = 0; p < n; p++) {
      f64[0] = score[base + p]! + 0; // -0 + 0 = +0: one key for both zeros
      const h = u32[HI]!, l = u32[LO]!;
      // Keys whose ascending unsigned order is descending float order.
      if (h & 0x80000000) { hi[p] = h; lo[p] = l; } else { hi[p] = h ^ 0x7fffffff; lo[p] = ~l >>> 0; }
      perm[p] = p;
    }
    let src: Int32Array = perm, dst: Int32Array = this.tmp;
    for (let pass = 0; pass < 8; pass++) {
      const words = pass < 4 ? lo : hi;
      const shift = (pass & 3) * 8;
      const count = this.count;
      count.fill(0);
      for (let i = 0; i < n; i++) count[((words[src[i]!]! >>> shift) & 0xff) + 1]!++;
      let single = false;
      for (let b = 1; b <= 256; b++) if (count[b] === n) { single = true; break; }
      if (single) continue; // every key has the same byte here: the pass would not move anything
      for (let b = 0; b < 256; b++) count[b + 1]! += count[b]!;
      for (let i = 0; i < n; i++) {
        const p = src[i]!;
        dst[count[(words[p]! >>> shift) & 0xff]!++] = p;
      }
      const t = src; src = dst; dst = t;
    }
    if (src !== perm) perm.set(src.subarray(0, n));
  }
}
