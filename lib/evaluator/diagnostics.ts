// Alignment diagnostics from the Align-DETR and Stable-DINO papers, computed
// from raw model outputs and matcher results (pure functions, no tensors).
import { must } from '../must';

/** Box layouts accepted by the diagnostics. */
export type BoxFormat = 'xyxy' | 'xywh' | 'cxcywh';

/** One image's predictions and ground truth for {@link bestRegressedRecall}. */
export interface AlignmentSample {
  /**
   * Confidence per query: Q values, or Q*numClasses class scores row by row
   * (then each GT is ranked by the score of its own class, `gtLabels`).
   */
  scores: ArrayLike<number>;
  /** Set when `scores` holds Q*numClasses class scores. */
  numClasses?: number;
  /** Q*4 predicted boxes. */
  boxes: ArrayLike<number>;
  /** G*4 ground-truth boxes, same format as `boxes`. */
  gtBoxes: ArrayLike<number>;
  /** G class indices in [0, numClasses); required with class scores. */
  gtLabels?: ArrayLike<number>;
}

/** Result of {@link bestRegressedRecall}: one entry per requested N. */
export interface BestRegressedRecallResult {
  topN: number[];
  /** hits / total, or NaN when there is no ground truth at all. */
  recall: number[];
  /** GTs whose best-regressed query ranks among the N most confident. */
  hits: number[];
  /** GT boxes counted (every GT of every sample). */
  total: number;
}

type Xyxy = [number, number, number, number];

function toXyxy(b: ArrayLike<number>, i: number, format: BoxFormat): Xyxy {
  const a = b[4 * i]!, c = b[4 * i + 1]!, e = b[4 * i + 2]!, f = b[4 * i + 3]!;
  if (format === 'xyxy') return [a, c, e, f];
  if (format === 'xywh') return [a, c, a + e, c + f];
  return [a - e / 2, c - f / 2, a + e / 2, c + f / 2];
}

/** Plain IoU of two xyxy boxes; 0 for empty or degenerate boxes. */
function boxIou(p: Readonly<Xyxy>, g: Readonly<Xyxy>): number {
  const iw = Math.min(p[2], g[2]) - Math.max(p[0], g[0]);
  const ih = Math.min(p[3], g[3]) - Math.max(p[1], g[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** The most samples or images a diagnostic takes; checked before the array is walked (a sparse array's length alone can be 2^32 − 1). */
export const MAX_DIAGNOSTIC_SAMPLES = 10_000_000;

function checkSampleCount(list: readonly unknown[], name = 'samples'): void {
  if (list.length > MAX_DIAGNOSTIC_SAMPLES) throw new RangeError(`${name}: at most ${MAX_DIAGNOSTIC_SAMPLES} entries, got ${list.length}`);
}

function checkLength(v: ArrayLike<number> | undefined, expected: number, where: string): void {
  if (!v || typeof v.length !== 'number') throw new TypeError(`${where}: expected an array of numbers`);
  if (v.length !== expected) throw new RangeError(`${where}: length ${v.length}, expected ${expected}`);
}

/**
 * Align-DETR's misalignment measure: the recall of best-regressed predictions
 * among the top-N most confident ones.
 *
 * For every GT box, its best-regressed query is the query whose box has the
 * highest IoU with it (lowest index on ties). The GT is a hit at N when that
 * query is among the N most confident queries of the image, ranking by
 * descending confidence with ties broken by lower query index (with class
 * scores, the confidence is the score of the GT's class). A GT that no
 * prediction overlaps (best IoU 0) has no best-regressed query and is a miss.
 * A well-aligned detector (confidence follows localisation quality) scores
 * close to 1 at small N.
 */
export function bestRegressedRecall(
  samples: readonly AlignmentSample[],
  topN: number | readonly number[],
  options: { boxFormat?: BoxFormat } = {},
): BestRegressedRecallResult {
  const format = options.boxFormat ?? 'xyxy';
  if (format !== 'xyxy' && format !== 'xywh' && format !== 'cxcywh') {
    throw new TypeError(`options.boxFormat: expected 'xyxy', 'xywh' or 'cxcywh', got ${String(format)}`);
  }
  if (typeof topN !== 'number' && !Array.isArray(topN)) throw new TypeError('topN: expected a positive integer or an array of them');
  const ns = typeof topN === 'number' ? [topN] : [...topN];
  ns.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`topN${typeof topN === 'number' ? '' : `[${i}]`}: expected a positive integer, got ${n}`);
  });
  if (!Array.isArray(samples)) throw new TypeError('samples: expected an array of samples');
  checkSampleCount(samples);
  const hits = ns.map(() => 0);
  let total = 0;
  samples.forEach((s, si) => {
    const where = `samples[${si}]`;
    if (!s || typeof s !== 'object') throw new TypeError(`${where}: expected an object`);
    const Q = s.boxes?.length !== undefined ? s.boxes.length / 4 : NaN;
    if (!Number.isInteger(Q)) throw new RangeError(`${where}.boxes: expected Q*4 numbers`);
    const G = s.gtBoxes?.length !== undefined ? s.gtBoxes.length / 4 : NaN;
    if (!Number.isInteger(G)) throw new RangeError(`${where}.gtBoxes: expected G*4 numbers`);
    const C = s.numClasses ?? 1;
    if (!Number.isInteger(C) || C < 1) throw new RangeError(`${where}.numClasses: expected a positive integer, got ${C}`);
    checkLength(s.scores, Q * C, `${where}.scores`);
    if (s.numClasses !== undefined) checkLength(s.gtLabels, G, `${where}.gtLabels`);
    const preds = Array.from({ length: Q }, (_, q) => toXyxy(s.boxes, q, format));
    for (let g = 0; g < G; g++) {
      total++;
      const gtBox = toXyxy(s.gtBoxes, g, format);
      let best = -1, bestIou = 0;
      for (let q = 0; q < Q; q++) {
        const iou = boxIou(preds[q]!, gtBox); // q < Q = preds.length
        if (iou > bestIou) { bestIou = iou; best = q; }
      }
      if (best < 0) continue;
      let column = 0;
      if (s.numClasses !== undefined) {
        column = s.gtLabels![g];
        if (!Number.isInteger(column) || column < 0 || column >= C) {
          throw new RangeError(`${where}.gtLabels[${g}]: expected a class index in [0, ${C}), got ${column}`);
        }
      }
      const conf = (q: number): number => s.scores[q * C + column];
      const c = conf(best);
      if (Number.isNaN(c)) throw new RangeError(`${where}.scores: NaN confidence for query ${best}`);
      // 0-based rank of the best-regressed query in descending-confidence order.
      let rank = 0;
      for (let q = 0; q < Q; q++) {
        const v = conf(q);
        if (v > c || (v === c && q < best)) rank++;
      }
      ns.forEach((n, i) => { if (rank < n) hits[i]!++; }); // hits is parallel to ns
    }
  });
  return { topN: ns, recall: hits.map((h) => (total > 0 ? h / total : NaN)), hits, total };
}

/** One matcher result: query queryIndices[i] is assigned to GT gtIndices[i]. */
export interface LayerMatching {
  queryIndices: ArrayLike<number>;
  gtIndices: ArrayLike<number>;
}

/** One image's matchings, one per decoder layer in layer order. */
export interface ImageMatchings {
  numQueries: number;
  numGt: number;
  layers: readonly LayerMatching[];
}

/** Result of {@link matchingInstability}: entry l-1 compares layer l-1 with layer l. */
export interface MatchingInstabilityResult {
  /** DN-DETR's instability IS: queries whose assigned GT (or none) changed, summed over images. */
  changedQueries: number[];
  /** GTs whose set of assigned queries changed, summed over images. */
  unstableGt: number[];
  /** unstableGt / totalGt per layer transition (NaN without GT). */
  unstableRate: number[];
  /** Mean of unstableRate over transitions (NaN when fewer than 2 layers or no GT). */
  meanUnstableRate: number;
  totalGt: number;
}

/**
 * Cross-layer matching instability (Stable-DINO; IS from DN-DETR). Between
 * consecutive decoder layers l-1 and l of the same image, a query counts as
 * changed when the GT it is matched to differs (unmatched = -1), and a GT
 * counts as unstable when the set of queries matched to it differs (one query
 * for one-to-one matching, k for Align-DETR's one-to-many layers). Each query
 * may be matched at most once per layer.
 */
export function matchingInstability(images: readonly ImageMatchings[]): MatchingInstabilityResult {
  if (!Array.isArray(images)) throw new TypeError('images: expected an array of per-image matchings');
  checkSampleCount(images, 'images');
  const L = images.length > 0 ? images[0].layers?.length ?? 0 : 0;
  const changedQueries = new Array<number>(Math.max(L - 1, 0)).fill(0);
  const unstableGt = new Array<number>(Math.max(L - 1, 0)).fill(0);
  let totalGt = 0;
  images.forEach((img, ii) => {
    const where = `images[${ii}]`;
    const { numQueries: Q, numGt: G } = img;
    if (!Number.isInteger(Q) || Q < 0) throw new RangeError(`${where}.numQueries: expected a non-negative integer, got ${Q}`);
    if (!Number.isInteger(G) || G < 0) throw new RangeError(`${where}.numGt: expected a non-negative integer, got ${G}`);
    if (!Array.isArray(img.layers) || img.layers.length !== L) {
      throw new RangeError(`${where}.layers: expected ${L} layers like images[0]`);
    }
    totalGt += G;
    const gtOfQuery = img.layers.map((m: LayerMatching, l: number) => assignmentOf(m, Q, G, `${where}.layers[${l}]`));
    for (let l = 1; l < L; l++) {
      const prev = must(gtOfQuery[l - 1], 'layer matching'), cur = must(gtOfQuery[l], 'layer matching');
      const gtChanged = new Uint8Array(G);
      for (let q = 0; q < Q; q++) {
        if (prev[q] === cur[q]) continue;
        changedQueries[l - 1]!++; // l - 1 < L - 1 = changedQueries.length
        // q left prev[q]'s set and/or joined cur[q]'s: both sets differ.
        if (prev[q] >= 0) gtChanged[prev[q]] = 1;
        if (cur[q] >= 0) gtChanged[cur[q]] = 1;
      }
      for (let g = 0; g < G; g++) unstableGt[l - 1]! += gtChanged[g]!;
    }
  });
  const unstableRate = unstableGt.map((u) => (totalGt > 0 ? u / totalGt : NaN));
  const meanUnstableRate = unstableRate.length > 0 ? unstableRate.reduce((a, b) => a + b, 0) / unstableRate.length : NaN;
  return { changedQueries, unstableGt, unstableRate, meanUnstableRate, totalGt };
}

/** V[q] = GT matched to query q, -1 when unmatched (DN-DETR's index vector). */
function assignmentOf(m: LayerMatching, Q: number, G: number, where: string): Int32Array {
  if (!m || typeof m !== 'object') throw new TypeError(`${where}: expected {queryIndices, gtIndices}`);
  const n = m.queryIndices?.length;
  if (typeof n !== 'number') throw new TypeError(`${where}.queryIndices: expected an array of numbers`);
  checkLength(m.gtIndices, n, `${where}.gtIndices`);
  const v = new Int32Array(Q).fill(-1);
  for (let i = 0; i < n; i++) {
    const q = m.queryIndices[i]!, g = m.gtIndices[i]!;
    if (!Number.isInteger(q) || q < 0 || q >= Q) throw new RangeError(`${where}.queryIndices[${i}]: expected a query index in [0, ${Q}), got ${q}`);
    if (!Number.isInteger(g) || g < 0 || g >= G) throw new RangeError(`${where}.gtIndices[${i}]: expected a GT index in [0, ${G}), got ${g}`);
    if (v[q] !== -1) throw new RangeError(`${where}.queryIndices[${i}]: query ${q} is matched twice`);
    v[q] = g;
  }
  return v;
}
