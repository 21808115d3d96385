// COCOeval (bbox) re-done on flat arrays: per-category IoU, greedy matching,
// accumulation and the 12 summary statistics, bit-identical to pycocotools.
//
// Shortcut that keeps exactness: a category's detections are stably sorted by
// score once; every (area range, maxDets) setting is a filter of that order
// (a stable order restricted to a subsequence is the subsequence's stable
// order), and ignored detections only repeat the previous cumulative counts,
// so they can be dropped from the precision/recall curves without changing them.
import type { DetectionIndex, GroundTruthIndex } from './coco-input';
import type { CocoEvalResult } from './coco-types';
import { linspace, meanOfDefined, NP_SPACING_1 } from './numpy-compat';
import { ScoreSorter } from './score-sort';

/** IoU thresholds .50:.05:.95, exactly as np.linspace makes them. */
export const IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
/** Recall thresholds 0:.01:1 (101 points). */
export const RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
/** maxDets settings. */
export const MAX_DETS: readonly number[] = [1, 10, 100];
/** Area ranges all/small/medium/large, both bounds inclusive. */
export const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10], [0, 32 * 32], [32 * 32, 96 * 96], [96 * 96, 1e10],
];

const T = 10, R = 101, A = 4, M = 3;
const ALL_T = (1 << T) - 1; // one bit per IoU threshold
const MATCH_CAP = 1 - 1e-10;

/** Typed arrays that grow on demand and are reused across images and categories. */
class Scratch {
  private f64 = new Float64Array(256);
  private i32 = new Int32Array(256);
  private u8 = new Uint8Array(256);
  private u16 = new Uint16Array(256);
  f64At(n: number): Float64Array {
    if (this.f64.length < n) this.f64 = new Float64Array(Math.max(n, 2 * this.f64.length));
    return this.f64;
  }
  i32At(n: number): Int32Array {
    if (this.i32.length < n) this.i32 = new Int32Array(Math.max(n, 2 * this.i32.length));
    return this.i32;
  }
  u8At(n: number): Uint8Array {
    if (this.u8.length < n) this.u8 = new Uint8Array(Math.max(n, 2 * this.u8.length));
    return this.u8;
  }
  u16At(n: number): Uint16Array {
    if (this.u16.length < n) this.u16 = new Uint16Array(Math.max(n, 2 * this.u16.length));
    return this.u16;
  }
}

/**
 * Evaluates categories one at a time into shared precision/recall arrays.
 * Call `evaluateCategory(k)` for every k, then `summarize()`.
 *
 * Per detection and area range, the outcome at the 10 IoU thresholds is kept
 * as two bit masks: `tpBits` (matched to a regular GT) and `igBits` (ignored:
 * matched to a crowd/out-of-range GT, or unmatched with its own area out of
 * range). A detection in neither mask at threshold t is a false positive.
 */
export class CocoEvalRun {
  readonly K: number;
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  private readonly ious = new Scratch();
  private readonly maxIou = new Scratch();
  private readonly candidates = new Scratch();
  private readonly gtOrder = new Scratch();
  private readonly matched = new Scratch();
  private readonly gtIgnore = new Scratch();
  private readonly regBits = new Scratch();
  private readonly ignBits = new Scratch();
  private readonly tpBits = new Scratch();
  private readonly igBits = new Scratch();
  private readonly rankInImage = new Scratch();
  private readonly perm = new Scratch();
  private readonly curve = new Scratch();
  private readonly npig = new Float64Array(A);
  private readonly sorter = new ScoreSorter();

  constructor(private readonly gt: GroundTruthIndex, private readonly dt: DetectionIndex) {
    this.K = gt.catIds.length;
    this.precision = new Float64Array(T * R * this.K * A * M).fill(-1);
    this.recall = new Float64Array(T * this.K * A * M).fill(-1);
  }

  /** evaluateImg for every image of category k, then accumulate for k. */
  evaluateCategory(k: number): void {
    const gtG = this.gt.groups, dtG = this.dt.groups;
    const dtBase = dtG.groupStart[dtG.catGroupStart[k]!]!;
    const dtEnd = dtG.groupStart[dtG.catGroupStart[k + 1]!]!;
    const n = dtEnd - dtBase;
    const tpBits = this.tpBits.u16At(n * A);
    const igBits = this.igBits.u16At(n * A);
    const rank = this.rankInImage.u8At(n);
    this.npig.fill(0);
    // Walk the images that have ground truth or detections of k, ascending.
    let gj = gtG.catGroupStart[k]!;
    const gjEnd = gtG.catGroupStart[k + 1]!;
    let dj = dtG.catGroupStart[k]!;
    const djEnd = dtG.catGroupStart[k + 1]!;
    while (gj < gjEnd || dj < djEnd) {
      const gImg = gj < gjEnd ? gtG.groupImg[gj]! : 0x7fffffff;
      const dImg = dj < djEnd ? dtG.groupImg[dj]! : 0x7fffffff;
      let g0 = 0, g1 = 0, d0 = 0, d1 = 0;
      if (gImg <= dImg) { g0 = gtG.groupStart[gj]!; g1 = gtG.groupStart[gj + 1]!; gj++; }
      if (dImg <= gImg) { d0 = dtG.groupStart[dj]!; d1 = dtG.groupStart[dj + 1]!; dj++; }
      for (let p = d0; p < d1; p++) rank[p - dtBase] = p - d0;
      this.evaluateImage(g0, g1, d0, d1, tpBits, igBits, dtBase);
    }
    this.accumulateCategory(k, dtBase, n, tpBits, igBits, rank);
  }

  /** Fills tpBits/igBits[(p - dtBase) * 4 + a] for detections [d0, d1) of one image. */
  private evaluateImage(
    g0: number, g1: number, d0: number, d1: number, tpBits: Uint16Array, igBits: Uint16Array, dtBase: number,
  ): void {
    const gt = this.gt, dt = this.dt;
    const G = g1 - g0, D = d1 - d0;
    const ious = this.ious.f64At(D * G);
    const maxIou = this.maxIou.f64At(D);
    // Detections that can match at some threshold (IoU >= .5 with some GT).
    const cand = this.candidates.i32At(D);
    let nCand = 0;
    // bbIou from maskApi.c: xywh boxes, crowd union = detection area.
    for (let d = 0; d < D; d++) {
      const p = d0 + d;
      const dx = dt.x[p]!, dy = dt.y[p]!, dw = dt.w[p]!, dh = dt.h[p]!;
      const da = dw * dh;
      let best = 0;
      for (let g = 0; g < G; g++) {
        const q = g0 + g;
        const gx = gt.x[q]!, gy = gt.y[q]!, gw = gt.w[q]!, gh = gt.h[q]!;
        let o = 0;
        const iw = Math.min(dx + dw, gx + gw) - Math.max(dx, gx);
        if (iw > 0) {
          const ih = Math.min(dy + dh, gy + gh) - Math.max(dy, gy);
          if (ih > 0) {
            const inter = iw * ih;
            const union = gt.crowd[q] ? da : da + gw * gh - inter;
            o = inter / union;
          }
        }
        ious[d * G + g] = o;
        if (o > best) best = o;
      }
      maxIou[d] = best;
      if (best >= Math.min(IOU_THRESHOLDS[0]!, MATCH_CAP)) cand[nCand++] = d;
    }
    const order = this.gtOrder.i32At(G);
    const matched = this.matched.u8At(G);
    // GT ignore flags per area range; ranges with the same flags give the same matching.
    const ignore = this.gtIgnore.u8At(A * G);
    const regBits = this.regBits.u16At(A * D), ignBits = this.ignBits.u16At(A * D);
    for (let a = 0; a < A; a++) {
      const range = AREA_RANGES[a]!;
      const lo = range[0], hi = range[1];
      let nReg = 0;
      for (let g = 0; g < G; g++) {
        const q = g0 + g, ar = gt.area[q]!;
        const ig = gt.crowd[q] || ar < lo || ar > hi ? 1 : 0;
        ignore[a * G + g] = ig;
        nReg += 1 - ig;
      }
      this.npig[a]! += nReg;
      // Reuse the matching of an earlier range with identical GT ignore flags.
      let same = -1;
      for (let b = 0; b < a && same < 0; b++) {
        let g = 0;
        while (g < G && ignore[b * G + g] === ignore[a * G + g]) g++;
        if (g === G) same = b;
      }
      if (same >= 0) {
        regBits.copyWithin(a * D, same * D, same * D + D);
        ignBits.copyWithin(a * D, same * D, same * D + D);
      } else {
        this.matchDetections(a, G, g0, D, nReg, nCand, cand, maxIou, ious, ignore, order, matched, regBits, ignBits);
      }
      // Outcome: TP where matched to a regular GT; otherwise ignored where matched to an
      // ignored GT, or at every unmatched threshold when the detection's own area is out of range.
      for (let d = 0; d < D; d++) {
        const p = d0 + d;
        const dArea = dt.w[p]! * dt.h[p]!;
        const at = (p - dtBase) * A + a;
        const reg = regBits[a * D + d]!;
        tpBits[at] = reg;
        igBits[at] = dArea < lo || dArea > hi ? ALL_T & ~reg : ignBits[a * D + d]!;
      }
    }
  }

  /**
   * The greedy matching of evaluateImg for one area range, at every IoU
   * threshold: sets bit t of regBits[a*D + d] when detection d takes a regular
   * GT (with a non-zero id) at threshold t, of ignBits when it takes an ignored GT.
   */
  private matchDetections(
    a: number, G: number, g0: number, D: number, nReg: number, nCand: number, cand: Int32Array,
    maxIou: Float64Array, ious: Float64Array, ignore: Uint8Array, order: Int32Array, matched: Uint8Array,
    regBits: Uint16Array, ignBits: Uint16Array,
  ): void {
    const gt = this.gt;
    regBits.fill(0, a * D, a * D + D);
    ignBits.fill(0, a * D, a * D + D);
    if (nCand === 0) return;
    // Regular GT first, then ignored (crowd or area outside the range), each in dataset order.
    let r = 0, o = nReg;
    for (let g = 0; g < G; g++) {
      if (ignore[a * G + g]) order[o++] = g; else order[r++] = g;
    }
    for (let t = 0; t < T; t++) {
      const thr = Math.min(IOU_THRESHOLDS[t]!, MATCH_CAP);
      const bit = 1 << t;
      matched.fill(0, 0, G);
      for (let c = 0; c < nCand; c++) {
        const d = cand[c]!;
        if (maxIou[d]! < thr) continue; // no GT reaches the threshold: stays unmatched
        let best = thr, m = -1;
        const row = d * G;
        for (let gi = 0; gi < G; gi++) {
          const g = order[gi]!;
          if (matched[gi] && !gt.crowd[g0 + g]) continue;
          if (m > -1 && m < nReg && gi >= nReg) break;
          const v = ious[row + g]!;
          if (v < best) continue;
          best = v;
          m = gi;
        }
        if (m === -1) continue;
        matched[m] = 1;
        if (m >= nReg) ignBits[a * D + d]! |= bit;
        else if (!gt.zeroId[g0 + order[m]!]) regBits[a * D + d]! |= bit;
        // A GT with id 0 is recorded as match id 0, which pycocotools reads as
        // "unmatched": the detection keeps its unmatched outcome.
      }
    }
  }

  /**
   * COCOeval.accumulate for category k, all area ranges, maxDets and thresholds.
   *
   * Only true positives matter for the interpolated precision: recall only
   * rises at a TP, and between two TPs precision only falls, so the
   * right-to-left maximum at any point is reached at a TP (or is 0). The j-th
   * TP at threshold t has precision j / (fp + j + eps) with fp the false
   * positives before it; those values are the curve.
   */
  private accumulateCategory(
    k: number, dtBase: number, n: number, tpBits: Uint16Array, igBits: Uint16Array, rank: Uint8Array,
  ): void {
    const score = this.dt.score;
    const perm = this.perm.i32At(n);
    // Stable descending score over the image-ordered concatenation (numpy mergesort).
    this.sorter.sortByScoreDesc(score, dtBase, n, perm);
    const K = this.K;
    const fpExtra = new Float64Array(T);
    const tpCount = new Int32Array(T);
    for (let a = 0; a < A; a++) {
      const npig = this.npig[a]!;
      if (npig === 0) continue; // no regular GT: precision and recall stay -1
      // At most npig TPs per threshold.
      const curve = this.curve.f64At(T * npig);
      for (let mi = 0; mi < M; mi++) {
        const maxDet = MAX_DETS[mi]!;
        fpExtra.fill(0);
        tpCount.fill(0);
        let fpAll = 0; // false positives at every threshold, counted once
        for (let i = 0; i < n; i++) {
          const p = perm[i]!;
          if (rank[p]! >= maxDet) continue;
          const tb = tpBits[p * A + a]!, ib = igBits[p * A + a]!;
          if ((tb | ib) === 0) { fpAll++; continue; }
          if (ib === ALL_T) continue;
          for (let t = 0; t < T; t++) {
            const bit = 1 << t;
            if (ib & bit) continue;
            if (tb & bit) {
              const tp = ++tpCount[t]!;
              curve[t * npig + tp - 1] = tp / (fpAll + fpExtra[t]! + tp + NP_SPACING_1);
            } else {
              fpExtra[t]!++;
            }
          }
        }
        for (let t = 0; t < T; t++) {
          const nTp = tpCount[t]!, off = t * npig;
          this.recall[((t * K + k) * A + a) * M + mi] = nTp / npig;
          // Precision envelope over the TPs, right to left.
          for (let j = nTp - 1; j > 0; j--) {
            if (curve[off + j]! > curve[off + j - 1]!) curve[off + j - 1] = curve[off + j]!;
          }
          // q[r] = envelope at the first TP whose recall j/npig reaches recThr[r]; 0 past the last.
          let r = 0;
          for (let j = 0; j < nTp && r < R; j++) {
            const rc = (j + 1) / npig;
            while (r < R && rc >= RECALL_THRESHOLDS[r]!) {
              this.precision[(((t * R + r) * K + k) * A + a) * M + mi] = curve[off + j]!;
              r++;
            }
          }
          for (; r < R; r++) this.precision[(((t * R + r) * K + k) * A + a) * M + mi] = 0;
        }
      }
    }
  }

  /** COCOeval.summarize for bbox: the 12 statistics. */
  summarize(): CocoEvalResult {
    const ap = (iouThr: number | null, a: number, mi: number): number => {
      const ts = thresholdIndices(iouThr);
      const K = this.K;
      const vals = new Float64Array(ts.length * R * K);
      let o = 0;
      for (const t of ts) for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) {
        vals[o++] = this.precision[(((t * R + r) * K + k) * A + a) * M + mi]!;
      }
      return meanOfDefined(vals);
    };
    const ar = (a: number, mi: number): number => {
      const K = this.K;
      const vals = new Float64Array(T * K);
      let o = 0;
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) vals[o++] = this.recall[((t * K + k) * A + a) * M + mi]!;
      return meanOfDefined(vals);
    };
    const AP = ap(null, 0, 2), AP50 = ap(0.5, 0, 2), AP75 = ap(0.75, 0, 2);
    const APs = ap(null, 1, 2), APm = ap(null, 2, 2), APl = ap(null, 3, 2);
    const AR1 = ar(0, 0), AR10 = ar(0, 1), AR100 = ar(0, 2);
    const ARs = ar(1, 2), ARm = ar(2, 2), ARl = ar(3, 2);
    return {
      stats: [AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl],
      AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl,
      catIds: this.gt.catIds.slice(),
      precision: this.precision,
      recall: this.recall,
    };
  }
}

/** `np.where(iouThr == p.iouThrs)`; all thresholds when iouThr is null. */
function thresholdIndices(iouThr: number | null): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t++) if (iouThr === null || IOU_THRESHOLDS[t] === iouThr) out.push(t);
  return out;
}
