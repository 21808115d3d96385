// COCO bbox evaluation against pycocotools golden fixtures (see
// test/fixtures/coco-eval/make_coco_eval_fixtures.py), input errors, batch
// accumulation, and the alignment diagnostics against brute force.
import test from 'ava';
import { promises as fs, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CocoEvaluator, evaluateCoco, IOU_THRESHOLDS, RECALL_THRESHOLDS,
  bestRegressedRecall, matchingInstability,
} from '../lib/evaluator/index';
import { ScoreSorter } from '../lib/evaluator/score-sort';
import type { AlignmentSample, CocoDataset, CocoDetection, CocoEvalResult, ImageMatchings } from '../lib/evaluator/index';
import { FIXTURES_DIR, loadFixture, maxAbsDiff } from './helpers/support';

interface Expected {
  stats: number[];
  recall: number[];
  precisionSumOverRecall: number[];
  catIds: number[];
  iouThrs: number[];
  recThrs: number[];
}
interface Fixture { gt: CocoDataset; dt: CocoDetection[]; expected: Expected }

const FIXTURES = path.join(FIXTURES_DIR, 'coco-eval');
const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const load = (name: string): Fixture => loadFixture<Fixture>(`coco-eval/${name}.json`);

const TOL = 1e-12;

/** sum over the recall axis of precision [T, R, K, A, M] -> [T, K, A, M]. */
function precisionSumOverRecall(r: CocoEvalResult): Float64Array {
  const K = r.catIds.length, R = 101, inner = K * 12;
  const out = new Float64Array(10 * inner);
  for (let t = 0; t < 10; t++) for (let q = 0; q < R; q++) for (let i = 0; i < inner; i++) {
    out[t * inner + i]! += r.precision[(t * R + q) * inner + i]!;
  }
  return out;
}

test('fixtures cover the required cases', (t) => {
  t.true(fixtureNames.length >= 6, fixtureNames.join(', '));
  const { expected } = load(fixtureNames[0]!);
  t.deepEqual(Array.from(IOU_THRESHOLDS), expected.iouThrs, 'iouThrs bit-identical to np.linspace');
  t.deepEqual(Array.from(RECALL_THRESHOLDS), expected.recThrs, 'recThrs bit-identical to np.linspace');
  t.true(IOU_THRESHOLDS.includes(0.8999999999999999));
});

for (const name of fixtureNames) {
  test(`matches pycocotools COCOeval: ${name}`, async (t) => {
    const { gt, dt, expected } = load(name);
    const before = JSON.stringify([gt, dt]);
    const r = await evaluateCoco(gt, dt);
    t.is(JSON.stringify([gt, dt]), before, 'inputs are not mutated');
    t.is(r.stats.length, 12);
    t.true(maxAbsDiff(r.stats, expected.stats) <= TOL, `stats ${r.stats} vs ${expected.stats}`);
    // Same float64 formulas in the same order: the stats are in fact bit-identical.
    t.deepEqual(r.stats, expected.stats, 'bit-identical stats');
    const named = [r.AP, r.AP50, r.AP75, r.APs, r.APm, r.APl, r.AR1, r.AR10, r.AR100, r.ARs, r.ARm, r.ARl];
    t.deepEqual(named, r.stats);
    t.deepEqual(r.catIds, expected.catIds);
    t.is(r.recall.length, expected.recall.length);
    t.true(maxAbsDiff(r.recall, expected.recall) <= TOL, 'recall [T,K,A,M]');
    t.true(maxAbsDiff(precisionSumOverRecall(r), expected.precisionSumOverRecall) <= 1e-9, 'precision summed over R');
  });
}

test('radix score sort is the stable descending order (numpy mergesort of -score)', (t) => {
  let seed = 3;
  const rand = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const pool = [0, -0, 1, -1, 0.5, 1e-300, -1e-300, 5e-324, 1e300, -2.5, 0.1 + 0.2, 0.3];
  const sorter = new ScoreSorter();
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rand() * 400), base = Math.floor(rand() * 4);
    const score = Float64Array.from({ length: base + n }, () =>
      rand() < 0.5 ? pool[Math.floor(rand() * pool.length)]! : (rand() - 0.3) * 10 ** Math.floor(rand() * 12 - 6));
    const perm = new Int32Array(n + 2);
    sorter.sortByScoreDesc(score, base, n, perm);
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[base + b]! - score[base + a]! || a - b);
    t.deepEqual(Array.from(perm.subarray(0, n)), expected);
  }
});

test('file paths are read like objects', async (t) => {
  const { gt, dt } = load('mixed');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coco-eval-test-'));
  try {
    await fs.writeFile(path.join(dir, 'gt.json'), JSON.stringify(gt));
    await fs.writeFile(path.join(dir, 'dt.json'), JSON.stringify(dt));
    const fromFiles = await evaluateCoco(path.join(dir, 'gt.json'), path.join(dir, 'dt.json'));
    const fromObjects = await evaluateCoco(gt, dt);
    t.deepEqual(fromFiles.stats, fromObjects.stats);
    const ev = new CocoEvaluator(path.join(dir, 'gt.json'));
    ev.add(dt);
    t.deepEqual((await ev.evaluate()).stats, fromObjects.stats);
    await t.throwsAsync(evaluateCoco(path.join(dir, 'missing.json'), dt), { message: /^groundTruth: cannot read/ });
    await fs.writeFile(path.join(dir, 'bad.json'), '{"images": [');
    await t.throwsAsync(evaluateCoco(gt, path.join(dir, 'bad.json')), { message: /^detections: .* is not valid JSON/ });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('CocoEvaluator batch by batch (objects and columns) equals one shot', async (t) => {
  const { gt, dt, expected } = load('many-images');
  const oneShot = await evaluateCoco(gt, dt);
  const ev = new CocoEvaluator(gt);
  let i = 0, batch = 0;
  while (i < dt.length) {
    const size = 1 + ((batch * 7919) % 523);
    const part = dt.slice(i, i + size);
    if (batch % 2 === 0) {
      ev.add(part);
    } else {
      ev.add({
        imageIds: Float64Array.from(part, (d) => d.image_id),
        categoryIds: part.map((d) => d.category_id),
        boxes: Float64Array.from(part.flatMap((d) => d.bbox)),
        scores: Float64Array.from(part, (d) => d.score),
      });
    }
    i += size;
    batch++;
  }
  t.true(batch > 5);
  t.is(ev.size, dt.length);
  const batched = await ev.evaluate();
  t.deepEqual(batched.stats, oneShot.stats);
  t.deepEqual(batched.precision, oneShot.precision);
  t.true(maxAbsDiff(batched.stats, expected.stats) <= TOL);
  // evaluate() does not consume the detections; reset() does.
  t.deepEqual((await ev.evaluate()).stats, oneShot.stats);
  ev.reset();
  t.is(ev.size, 0);
  const empty = await ev.evaluate();
  t.true(empty.stats.every((v) => v === 0 || v === -1));
});

test('malformed input: errors name the argument', async (t) => {
  const { gt, dt } = load('integer-boxes');
  const det = dt[0]!;
  const ev = new CocoEvaluator(gt);
  const bad: [unknown, RegExp][] = [
    [[{ ...det, bbox: [1, 2, 3] }], /^detections\[0\]\.bbox: expected \[x, y, width, height\]/],
    [[det, { ...det, score: NaN }], /^detections\[1\]\.score: expected a finite number, got NaN/],
    [[{ ...det, bbox: [1, 2, Infinity, 4] }], /^detections\[0\]\.bbox\[2\]: expected a finite number/],
    [[{ image_id: det.image_id, bbox: det.bbox, score: 1 }], /^detections\[0\]\.category_id: .*missing field/],
    [[{ ...det, image_id: 12345 }], /^detections\[0\]\.image_id: 12345 is not an image of the ground truth/],
    [[{ ...det, category_id: 77 }], /^detections\[0\]\.category_id: 77 is not a category of the ground truth/],
    [[null], /^detections\[0\]: expected an object/],
    ['nope', /^detections: expected an array/],
    [{ imageIds: [1], categoryIds: [1], boxes: [0, 0, 1], scores: [1] }, /^detections\.boxes: length 3 should be 4 \* 1/],
    [{ imageIds: [1], categoryIds: [1, 2], boxes: [0, 0, 1, 1], scores: [1] }, /^detections\.categoryIds: length 2 differs/],
  ];
  for (const [input, message] of bad) {
    t.throws(() => ev.add(input as CocoDetection[]), { message }, String(message));
    t.is(ev.size, 0, 'a rejected batch adds nothing');
  }
  ev.add(dt);
  t.throws(() => ev.add([{ ...det, image_id: 999 }]), { message: /^detections \(batch 1\)\[0\]\.image_id: 999/ });
  t.is(ev.size, dt.length);

  const gtErrors: [unknown, RegExp][] = [
    [null, /^groundTruth: expected a COCO dataset object/],
    [{ ...gt, images: undefined }, /^groundTruth\.images: expected an array/],
    [{ ...gt, annotations: [{ ...gt.annotations[0], image_id: 4242 }] }, /^groundTruth\.annotations\[0\]\.image_id: 4242 is not the id of an entry of groundTruth\.images/],
    [{ ...gt, annotations: [{ ...gt.annotations[0], category_id: 4242 }] }, /^groundTruth\.annotations\[0\]\.category_id: 4242/],
    [{ ...gt, annotations: [gt.annotations[0], { ...gt.annotations[1], id: gt.annotations[0]!.id }] }, /^groundTruth\.annotations\[1\]\.id: .* is used by another annotation/],
    [{ ...gt, annotations: [{ ...gt.annotations[0], iscrowd: 2 }] }, /^groundTruth\.annotations\[0\]\.iscrowd: expected 0, 1 or a boolean/],
    [{ ...gt, annotations: [{ ...gt.annotations[0], area: '12' }] }, /^groundTruth\.annotations\[0\]\.area: expected a finite number, got a string/],
    [{ ...gt, categories: [{ name: 'x' }] }, /^groundTruth\.categories\[0\]\.id: expected a finite number/],
  ];
  for (const [input, message] of gtErrors) {
    t.throws(() => new CocoEvaluator(input as CocoDataset), { message }, String(message));
  }
  // With a ground truth given as a path, ids are checked when it is loaded.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coco-eval-test-'));
  try {
    await fs.writeFile(path.join(dir, 'gt.json'), JSON.stringify(gt));
    const lazy = new CocoEvaluator(path.join(dir, 'gt.json'));
    lazy.add([...dt, { ...det, image_id: 31337 }]);
    await t.throwsAsync(lazy.evaluate(), { message: new RegExp(`^detections \\(all batches\\)\\[${dt.length}\\]\\.image_id: 31337`) });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('missing area falls back to w*h, missing iscrowd to 0', async (t) => {
  const { gt, dt } = load('integer-boxes');
  const explicit = {
    ...gt,
    annotations: gt.annotations.map((a) => ({ ...a, area: a.bbox[2] * a.bbox[3], iscrowd: 0 })),
  };
  const implicit = {
    ...gt,
    annotations: gt.annotations.map(({ area: _area, iscrowd: _crowd, ...rest }) => rest),
  };
  t.deepEqual((await evaluateCoco(implicit as CocoDataset, dt)).stats, (await evaluateCoco(explicit, dt)).stats);
});

test('a large evaluation yields to the event loop', async (t) => {
  // 1500 images x 100 detections over 80 categories: well over one 10 ms slice.
  const images = Array.from({ length: 1500 }, (_, i) => ({ id: i + 1 }));
  const categories = Array.from({ length: 80 }, (_, i) => ({ id: i + 1 }));
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  const annotations = [];
  const dets: CocoDetection[] = [];
  for (const img of images) {
    for (let g = 0; g < 7; g++) {
      const box = [rand() * 500, rand() * 400, 10 + rand() * 150, 10 + rand() * 150];
      const category_id = 1 + Math.floor(rand() * 80);
      annotations.push({ id: annotations.length + 1, image_id: img.id, category_id, bbox: box, area: box[2]! * box[3]!, iscrowd: 0 });
    }
    for (let d = 0; d < 100; d++) {
      const a = annotations[annotations.length - 1 - (d % 7)]!;
      const [x, y, w, h] = a.bbox as [number, number, number, number];
      dets.push({ image_id: img.id, category_id: d < 50 ? a.category_id : 1 + Math.floor(rand() * 80), bbox: [x + rand() * 5, y + rand() * 5, w, h], score: rand() });
    }
  }
  let ticks = 0;
  let running = true;
  const spin = (): void => { ticks++; if (running) setImmediate(spin); };
  setImmediate(spin);
  const r = await evaluateCoco({ images, annotations, categories }, dets);
  running = false;
  t.true(r.AP > 0 && r.AP <= 1);
  t.true(ticks >= 2, `event loop turns during evaluate: ${ticks}`);
});

// ---------------------------------------------------------------------------
// Alignment diagnostics

test('bestRegressedRecall: hand-computed case', (t) => {
  // 4 queries (xyxy). GT0 = [0,0,10,10]: best-regressed query 2 (IoU 1), confidence rank 2.
  // GT1 = [20,20,30,30]: best-regressed query 0 (IoU 0.81), rank 0. GT2 overlaps nothing: a miss.
  const sample: AlignmentSample = {
    scores: [0.9, 0.8, 0.3, 0.1],
    boxes: [21, 21, 30, 30, 0, 0, 9, 9, 0, 0, 10, 10, 100, 100, 101, 101],
    gtBoxes: [0, 0, 10, 10, 20, 20, 30, 30, 500, 500, 510, 510],
  };
  const r = bestRegressedRecall([sample], [1, 2, 3, 4]);
  t.deepEqual(r.hits, [1, 1, 2, 2]);
  t.is(r.total, 3);
  t.deepEqual(r.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3]);
  // Ties in confidence: the lower query index ranks first.
  const tied = bestRegressedRecall([{ ...sample, scores: [0.5, 0.5, 0.5, 0.5] }], 2);
  t.deepEqual(tied.hits, [1]); // GT1's query 0 is in the top 2, GT0's query 2 is not
  // Class scores: each GT ranked by its own class column.
  const classwise = bestRegressedRecall([{
    scores: [0.9, 0.0, 0.8, 0.0, 0.3, 0.95, 0.1, 0.0], numClasses: 2,
    boxes: sample.boxes, gtBoxes: sample.gtBoxes, gtLabels: [1, 0, 0],
  }], 1);
  t.deepEqual(classwise.hits, [2]);
});

function naiveIou(p: number[], g: number[]): number {
  // independent formulation via overlap lengths on each axis
  const ox = Math.max(0, Math.min(p[2]!, g[2]!) - Math.max(p[0]!, g[0]!));
  const oy = Math.max(0, Math.min(p[3]!, g[3]!) - Math.max(p[1]!, g[1]!));
  const inter = ox * oy;
  const u = (p[2]! - p[0]!) * (p[3]! - p[1]!) + (g[2]! - g[0]!) * (g[3]! - g[1]!) - inter;
  return inter > 0 ? inter / u : 0;
}

test('bestRegressedRecall equals brute force (sorting), in every box format', (t) => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const samples: AlignmentSample[] = [];
  const ns = [1, 3, 10, 50];
  const bruteHits = ns.map(() => 0);
  let bruteTotal = 0;
  for (let s = 0; s < 20; s++) {
    const Q = 5 + Math.floor(rand() * 60), G = Math.floor(rand() * 8);
    // Multiples of 1/4: every format conversion below is exact.
    const quarter = (v: number): number => Math.round(v * 4) / 4;
    const mk = (): number[] => { const x = quarter(rand() * 80), y = quarter(rand() * 80); return [x, y, x + 2 + quarter(rand() * 30), y + 2 + quarter(rand() * 30)]; };
    const boxes = Array.from({ length: Q }, mk), gts = Array.from({ length: G }, mk);
    const scores = Array.from({ length: Q }, () => Math.round(rand() * 20) / 20); // many ties
    samples.push({ scores, boxes: boxes.flat(), gtBoxes: gts.flat() });
    const byConfidence = scores.map((c, q) => ({ c, q })).sort((a, b) => b.c - a.c || a.q - b.q).map((e) => e.q);
    for (const g of gts) {
      bruteTotal++;
      const iousG = boxes.map((b) => naiveIou(b, g));
      const best = Math.max(...iousG);
      if (best <= 0) continue;
      const q = iousG.indexOf(best);
      ns.forEach((n, i) => { if (byConfidence.slice(0, n).includes(q)) bruteHits[i]!++; });
    }
  }
  const r = bestRegressedRecall(samples, ns);
  t.is(r.total, bruteTotal);
  t.deepEqual(r.hits, bruteHits);
  t.true(r.hits[0]! < r.hits[3]!, 'non-trivial data');
  const asXywh = samples.map((s) => ({ ...s, boxes: toXywh(s.boxes), gtBoxes: toXywh(s.gtBoxes) }));
  const asCxcywh = samples.map((s) => ({ ...s, boxes: toCxcywh(s.boxes), gtBoxes: toCxcywh(s.gtBoxes) }));
  t.deepEqual(bestRegressedRecall(asXywh, ns, { boxFormat: 'xywh' }).hits, bruteHits);
  t.deepEqual(bestRegressedRecall(asCxcywh, ns, { boxFormat: 'cxcywh' }).hits, bruteHits);
});

function toXywh(b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) out.push(b[i]!, b[i + 1]!, b[i + 2]! - b[i]!, b[i + 3]! - b[i + 1]!);
  return out;
}
function toCxcywh(b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 4) {
    const w = b[i + 2]! - b[i]!, h = b[i + 3]! - b[i + 1]!;
    out.push(b[i]! + w / 2, b[i + 1]! + h / 2, w, h);
  }
  return out;
}

test('bestRegressedRecall: argument errors', (t) => {
  const s: AlignmentSample = { scores: [1, 2], boxes: [0, 0, 1, 1, 0, 0, 2, 2], gtBoxes: [0, 0, 1, 1] };
  t.throws(() => bestRegressedRecall([s], 0), { message: /^topN: expected a positive integer/ });
  t.throws(() => bestRegressedRecall([{ ...s, scores: [1] }], 1), { message: /^samples\[0\]\.scores: length 1, expected 2/ });
  t.throws(() => bestRegressedRecall([{ ...s, boxes: [0, 0, 1] }], 1), { message: /^samples\[0\]\.boxes: expected Q\*4/ });
  t.throws(() => bestRegressedRecall([{ ...s, numClasses: 1 }], 1), { message: /^samples\[0\]\.gtLabels/ });
  t.throws(() => bestRegressedRecall([s], 1, { boxFormat: 'yxyx' as 'xyxy' }), { message: /^options\.boxFormat/ });
  t.true(Number.isNaN(bestRegressedRecall([], 5).recall[0]));
});

test('matchingInstability: hand-computed case', (t) => {
  // 6 queries, 3 GT, 3 layers. Layer 0 -> 1: query 1 moves GT0 -> GT2 and query 4 takes GT0 (q 4 was free),
  // query 5 was matched to GT2 and becomes free: queries 1, 4, 5 changed; GT0 and GT2 unstable.
  // Layer 1 -> 2: identical matching, nothing changes.
  const layer0 = { queryIndices: [1, 3, 5], gtIndices: [0, 1, 2] };
  const layer1 = { queryIndices: [3, 1, 4], gtIndices: [1, 2, 0] };
  const r = matchingInstability([{ numQueries: 6, numGt: 3, layers: [layer0, layer1, layer1] }]);
  t.deepEqual(r.changedQueries, [3, 0]);
  t.deepEqual(r.unstableGt, [2, 0]);
  t.is(r.totalGt, 3);
  t.deepEqual(r.unstableRate, [2 / 3, 0]);
  t.is(r.meanUnstableRate, 1 / 3);
});

test('matchingInstability equals brute force on random one-to-one and one-to-many matchings', (t) => {
  let seed = 99;
  const rand = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  const L = 6;
  const images: ImageMatchings[] = [];
  const changed = new Array(L - 1).fill(0), unstable = new Array(L - 1).fill(0);
  let totalGt = 0;
  for (let i = 0; i < 15; i++) {
    const Q = 30, G = Math.floor(rand() * 8), k = i % 2 === 0 ? 1 : 2;
    totalGt += G;
    const layers = [];
    for (let l = 0; l < L; l++) {
      // random distinct queries, k per GT; later layers mostly copy the previous one
      const prev = layers[l - 1];
      let qs: number[];
      if (prev && rand() < 0.5) qs = Array.from(prev.queryIndices);
      else qs = shuffle(Array.from({ length: Q }, (_, q) => q), rand).slice(0, G * k);
      layers.push({ queryIndices: qs, gtIndices: qs.map((_, j) => Math.floor(j / k)) });
    }
    images.push({ numQueries: Q, numGt: G, layers });
    for (let l = 1; l < L; l++) {
      const v = (m: { queryIndices: number[]; gtIndices: number[] }): number[] => {
        const out = new Array(Q).fill(-1);
        m.queryIndices.forEach((q, j) => { out[q] = m.gtIndices[j]; });
        return out;
      };
      const a = v(layers[l - 1]!), b = v(layers[l]!);
      for (let q = 0; q < Q; q++) if (a[q] !== b[q]) changed[l - 1]++;
      for (let g = 0; g < G; g++) {
        const setA = a.map((x, q) => (x === g ? q : -1)).filter((q) => q >= 0).join();
        const setB = b.map((x, q) => (x === g ? q : -1)).filter((q) => q >= 0).join();
        if (setA !== setB) unstable[l - 1]++;
      }
    }
  }
  const r = matchingInstability(images);
  t.deepEqual(r.changedQueries, changed);
  t.deepEqual(r.unstableGt, unstable);
  t.is(r.totalGt, totalGt);
  t.true(unstable.some((u) => u > 0) && changed.some((c) => c > 0), 'non-trivial data');
});

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('matchingInstability: argument errors', (t) => {
  const ok = { queryIndices: [0], gtIndices: [0] };
  t.throws(() => matchingInstability([{ numQueries: 2, numGt: 1, layers: [ok, { queryIndices: [0, 0], gtIndices: [0, 0] }] }]),
    { message: /^images\[0\]\.layers\[1\]\.queryIndices\[1\]: query 0 is matched twice/ });
  t.throws(() => matchingInstability([{ numQueries: 2, numGt: 1, layers: [ok, { queryIndices: [5], gtIndices: [0] }] }]),
    { message: /^images\[0\]\.layers\[1\]\.queryIndices\[0\]: expected a query index in \[0, 2\)/ });
  t.throws(() => matchingInstability([{ numQueries: 2, numGt: 1, layers: [ok, { queryIndices: [1], gtIndices: [1] }] }]),
    { message: /^images\[0\]\.layers\[1\]\.gtIndices\[0\]: expected a GT index in \[0, 1\)/ });
  t.throws(() => matchingInstability([{ numQueries: 2, numGt: 1, layers: [ok, ok] }, { numQueries: 2, numGt: 1, layers: [ok] }]),
    { message: /^images\[1\]\.layers: expected 2 layers/ });
  t.throws(() => matchingInstability([{ numQueries: 2, numGt: 1, layers: [ok, { queryIndices: [1], gtIndices: [] }] }]),
    { message: /^images\[0\]\.layers\[1\]\.gtIndices: length 0, expected 1/ });
});
