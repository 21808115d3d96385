// trainer.evaluateLoss options: the returned matching of every output is a valid assignment
// (k copies per GT on the encoder and intermediate layers, one-to-one on the last), as cheap as
// the exact optimum found by brute force over the model's own predictions, ranked by the
// Align-DETR quality with prime weights e^(−rank/τ) (docs/numerical-contract.md §C.1, §C.2, §D.2, §D.3); the denoising
// terms are reproducible from a seed without touching the training stream; option errors.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { AlignDetr, DataLoader, Tensor, Trainer, datasets } from '../lib/index';
import type { DetectionBatch, ImageMatching, OutputMatching } from '../lib/index';

// A very small model (as in trainer.test.ts) with few queries, so brute force stays exact and cheap.
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 12, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};
const TAU = 1.5;
const ALPHA = 0.25;

async function setup(seed = 3): Promise<{ model: AlignDetr; batch: DetectionBatch }> {
  const data = await datasets.synthetic({ numImages: 3, seed: 11, numClasses: 3, minObjects: 1, maxObjects: 3, width: 160, height: 128 });
  const loader = new DataLoader(data, { batchSize: 3, prefetch: 0 });
  const batch = await loader.loadBatch([0, 1, 2]);
  const model = await AlignDetr.create({ ...micro, categories: data.categories, seed });
  return { model, batch };
}

type Box = [number, number, number, number];
const xyxy = (b: Box): Box => [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2];

/** detrex IoU and GIoU (eps 1e-6) of two cxcywh boxes. */
function iouGiou(p: Box, g: Box): [number, number] {
  const a = xyxy(p);
  const b = xyxy(g);
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  const iou = inter / (union + 1e-6);
  const cw = Math.max(a[2], b[2]) - Math.min(a[0], b[0]);
  const ch = Math.max(a[3], b[3]) - Math.min(a[1], b[1]);
  return [iou, iou - (cw * ch - union) / (cw * ch + 1e-6)];
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** docs/numerical-contract.md §C.1 for query i and GT j: 5·L1 + 2·focal class cost − 2·GIoU. */
function pairCost(logit: number, p: Box, g: Box): number {
  const s = sigmoid(logit);
  const pos = 0.25 * (1 - s) ** 2 * -Math.log(s + 1e-8);
  const neg = 0.75 * s ** 2 * -Math.log(1 - s + 1e-8);
  const l1 = Math.abs(p[0] - g[0]) + Math.abs(p[1] - g[1]) + Math.abs(p[2] - g[2]) + Math.abs(p[3] - g[3]);
  return 5 * l1 + 2 * (pos - neg) - 2 * iouGiou(p, g)[1];
}

/** Exact minimum of Σ cost[q][col] over injective maps of `cols` columns into the queries (DP over column subsets). */
function bruteForceMin(cost: number[][], cols: number): number {
  const full = 1 << cols;
  let dp = new Array<number>(full).fill(Infinity);
  dp[0] = 0;
  for (const row of cost) {
    const next = dp.slice();  // this query unassigned
    for (let mask = 0; mask < full; mask++) {
      if (dp[mask] === Infinity) continue;
      for (let c = 0; c < cols; c++) {
        if (mask & (1 << c)) continue;
        const m = mask | (1 << c);
        next[m] = Math.min(next[m]!, dp[mask]! + row[c]!);
      }
    }
    dp = next;
  }
  return dp[full - 1]!;
}

interface Prediction {
  logits: Float32Array;
  boxes: Float32Array;
  queries: number;
  classes: number;
}

async function predictions(model: AlignDetr, batch: DetectionBatch): Promise<{ encoder: Prediction; layers: Prediction[] }> {
  const images = Tensor.from(batch.images, batch.shape);
  const sizes = Tensor.from(BigInt64Array.from(batch.targets.flatMap((t) => t.size.map(BigInt))), [batch.targets.length, 2]);
  const out = await model.forward(images, sizes);
  const read = (p: { logits: Tensor; boxes: Tensor }): Prediction => ({
    logits: p.logits.toTypedArray() as Float32Array,
    boxes: p.boxes.toTypedArray() as Float32Array,
    queries: p.logits.shape[1]!,
    classes: p.logits.shape[2]!,
  });
  return { encoder: read(out.encoder), layers: out.layers.map(read) };
}

/** Validity, optimality and ranks/weights of one image's matching against `pred`. */
function checkImage(
  t: ExecutionContext, what: string, im: ImageMatching, pred: Prediction, b: number,
  target: DetectionBatch['targets'][number], kAsked: number, primeWeights: boolean,
): void {
  const G = target.labels.length;
  const Q = pred.queries;
  const k = Math.max(1, Math.min(kAsked, Math.floor(Q / G)));
  t.is(im.k, k, `${what}: k = max(1, min(k, Q // G))`);
  const n = im.queries.length;
  t.is(n, k * G, `${what}: every GT gets k queries`);
  t.is(new Set(im.queries).size, n, `${what}: no query matched twice`);
  for (let j = 0; j < G; j++) t.is(im.gts.filter((g) => g === j).length, k, `${what}: GT ${j} has ${k} copies`);
  for (let e = 1; e < n; e++) {
    t.true(im.gts[e - 1]! < im.gts[e]! || (im.gts[e - 1] === im.gts[e] && im.queries[e - 1]! < im.queries[e]!), `${what}: grouped by GT`);
  }
  const box = (q: number): Box => {
    const o = (b * Q + q) * 4;
    return [pred.boxes[o]!, pred.boxes[o + 1]!, pred.boxes[o + 2]!, pred.boxes[o + 3]!];
  };
  const gtBox = (j: number): Box => [target.boxes[4 * j]!, target.boxes[4 * j + 1]!, target.boxes[4 * j + 2]!, target.boxes[4 * j + 3]!];
  const logit = (q: number, j: number): number => pred.logits[(b * Q + q) * pred.classes + target.labels[j]!]!;
  // The optimum over all assignments of the k·G GT copies (copy c of GT j is column c·G + j).
  const cost = Array.from({ length: Q }, (_, q) => Array.from({ length: k * G }, (_, col) => pairCost(logit(q, col % G), box(q), gtBox(col % G))));
  const best = bruteForceMin(cost, k * G);
  let got = 0;
  for (let e = 0; e < n; e++) got += cost[im.queries[e]!]![im.gts[e]!]!;
  t.true(Math.abs(got - best) <= 1e-6 * (1 + Math.abs(best)), `${what}: matched cost ${got} vs brute force ${best}`);
  // Ranks by q = p^α·IoU^(1−α) descending within each GT, ties to the lower query; weights.
  for (let e = 0; e < n; e++) {
    const q = (x: number): number => sigmoid(logit(im.queries[x]!, im.gts[x]!)) ** ALPHA * Math.max(0, iouGiou(box(im.queries[x]!), gtBox(im.gts[x]!))[0]) ** (1 - ALPHA);
    let rank = 0;
    for (let f = 0; f < n; f++) {
      if (f === e || im.gts[f] !== im.gts[e]) continue;
      if (q(f) > q(e) + 1e-6 || (Math.abs(q(f) - q(e)) <= 1e-6 && im.queries[f]! < im.queries[e]!)) rank++;
    }
    t.is(im.ranks[e], rank, `${what}: rank of query ${im.queries[e]}`);
    const w = primeWeights ? Math.exp(-rank / TAU) : 1;
    t.true(Math.abs(im.primeWeights[e]! - w) <= 1e-6, `${what}: prime weight ${im.primeWeights[e]} vs e^(−${rank}/τ) = ${w}`);
  }
}

test('returnMatching: k copies per GT (one-to-one on the last layer), optimal against brute force, ranks and e^(−rank/τ) weights', async (t) => {
  const { model, batch } = await setup();
  const trainer = new Trainer(model, { loss: 'align', k: 2, tau: TAU });
  const plain = await trainer.evaluateLoss(batch);
  t.is(plain.matching, undefined);
  const report = await trainer.evaluateLoss(batch, { returnMatching: true });
  t.deepEqual(report.losses, plain.losses, 'returning the matching changes no loss');
  const matching = report.matching as OutputMatching[];
  t.deepEqual(matching.map((m) => [m.output, m.layer, m.suffix, m.k]), [
    ['encoder', -1, '_enc', 2], ['decoder', 0, '_0', 2], ['decoder', 1, '', 1],
  ]);
  for (const m of matching) t.true(Object.keys(report.losses).includes(`loss_class${m.suffix}`));
  const preds = await predictions(model, batch);
  t.true(batch.targets.some((x) => x.labels.length >= 2), 'a batch with several GTs in one image');
  for (const [o, m] of matching.entries()) {
    const pred = o === 0 ? preds.encoder : preds.layers[o - 1]!;
    t.is(m.images.length, batch.targets.length);
    m.images.forEach((im, b) => checkImage(t, `${m.output}${m.suffix} image ${b}`, im, pred, b, batch.targets[b]!, m.k, m.k > 1));
  }
  // The last layer is one-to-one: every rank 0, every weight 1.
  for (const im of matching[2]!.images) {
    t.true(im.ranks.every((r) => r === 0) && im.primeWeights.every((w) => w === 1));
  }
  // Intermediate outputs really use both weights 1 and e^(−1/τ).
  const weights = new Set(matching[0]!.images.flatMap((im) => Array.from(im.primeWeights, (w) => w.toFixed(6))));
  t.deepEqual([...weights].sort(), [Math.exp(-1 / TAU).toFixed(6), '1.000000']);
});

test('denoising: the same seed gives identical losses, another seed others; the training stream is untouched', async (t) => {
  const { model, batch } = await setup();
  const trainer = new Trainer(model, { seed: 42 });
  const a = await trainer.evaluateLoss(batch, { denoising: true, seed: 5 });
  const b = await trainer.evaluateLoss(batch, { denoising: true, seed: 5 });
  t.deepEqual(a.losses, b.losses);
  const dnTerms = Object.keys(a.losses).filter((k) => k.includes('_dn'));
  t.deepEqual(dnTerms.sort(), ['loss_bbox_dn', 'loss_bbox_dn_0', 'loss_class_dn', 'loss_class_dn_0', 'loss_giou_dn', 'loss_giou_dn_0']);
  const other = await trainer.evaluateLoss(batch, { denoising: true, seed: 6 });
  t.notDeepEqual(dnTerms.map((k) => other.losses[k]), dnTerms.map((k) => a.losses[k]));
  // Without a seed: the trainer's seed.
  const dflt = await trainer.evaluateLoss(batch, { denoising: true });
  const s42 = await trainer.evaluateLoss(batch, { denoising: true, seed: 42 });
  t.deepEqual(dflt.losses, s42.losses);
  // Without denoising: no DN terms.
  t.false(Object.keys((await trainer.evaluateLoss(batch)).losses).some((k) => k.includes('_dn')));

  // Denoising matching: the positive slot of each group for each GT, weight 1, ranks a permutation per GT.
  const withMatch = await trainer.evaluateLoss(batch, { denoising: true, seed: 5, returnMatching: true });
  t.deepEqual(withMatch.losses, a.losses);
  const dn = withMatch.matching!.filter((m) => m.output === 'denoising');
  t.deepEqual(dn.map((m) => [m.layer, m.suffix]), [[0, '_dn_0'], [1, '_dn']]);
  const gMax = Math.max(...batch.targets.map((x) => x.labels.length));
  for (const m of dn) {
    t.true(m.k >= 1);
    m.images.forEach((im, b) => {
      const G = batch.targets[b]!.labels.length;
      t.is(im.k, m.k);
      t.is(im.queries.length, m.k * G);
      for (let e = 0; e < im.queries.length; e++) {
        const group = Math.floor(e / G);
        t.is(im.gts[e], e % G);
        t.is(im.queries[e], group * 2 * gMax + (e % G));
        t.is(im.primeWeights[e], 1);
      }
      for (let j = 0; j < G; j++) {
        const ranks = Array.from(im.ranks).filter((_, e) => im.gts[e] === j).sort((x, y) => x - y);
        t.deepEqual(ranks, [...Array(m.k).keys()]);
      }
    });
  }

  // evaluateLoss with denoising leaves the training generator alone: the next step is the same.
  const init = await setup();
  const plainTrainer = new Trainer(init.model, { seed: 42, lr: 1e-4 });
  const ref = await plainTrainer.step(init.batch);
  const again = await setup();
  const probed = new Trainer(again.model, { seed: 42, lr: 1e-4 });
  await probed.evaluateLoss(again.batch, { denoising: true });
  const stepped = await probed.step(again.batch);
  t.deepEqual(stepped.losses, ref.losses);
});

test("loss 'sd-align': one-to-one matching, no prime weights, and each class term is Σ TAL / num_boxes with t = s^0.25·IoU^0.75", async (t) => {
  const { model, batch } = await setup();
  const trainer = new Trainer(model, { loss: 'sd-align' });
  const report = await trainer.evaluateLoss(batch, { returnMatching: true });
  const matching = report.matching as OutputMatching[];
  t.deepEqual(matching.map((m) => [m.output, m.layer, m.suffix, m.k]), [
    ['encoder', -1, '_enc', 1], ['decoder', 0, '_0', 1], ['decoder', 1, '', 1],
  ]);
  const preds = await predictions(model, batch);
  const numBoxes = Math.max(1, batch.targets.reduce((n, x) => n + x.labels.length, 0));
  const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  for (const [o, m] of matching.entries()) {
    const pred = o === 0 ? preds.encoder : preds.layers[o - 1]!;
    const { queries: Q, classes: C } = pred;
    let sum = 0;
    m.images.forEach((im, b) => {
      const target = batch.targets[b]!;
      checkImage(t, `sd-align ${m.output}${m.suffix} image ${b}`, im, pred, b, target, 1, false);
      // The TAL target of each matched (query, class) entry.
      const tal = new Map<number, number>();
      for (let e = 0; e < im.queries.length; e++) {
        const q = im.queries[e]!;
        const j = im.gts[e]!;
        const o4 = (b * Q + q) * 4;
        const box: Box = [pred.boxes[o4]!, pred.boxes[o4 + 1]!, pred.boxes[o4 + 2]!, pred.boxes[o4 + 3]!];
        const gt: Box = [target.boxes[4 * j]!, target.boxes[4 * j + 1]!, target.boxes[4 * j + 2]!, target.boxes[4 * j + 3]!];
        const s = sigmoid(pred.logits[(b * Q + q) * C + target.labels[j]!]!);
        const u = Math.max(0, iouGiou(box, gt)[0]);
        tal.set(q * C + target.labels[j]!, s ** 0.25 * u ** 0.75);
      }
      // docs/neighbour-methods.md §2.4: |t − s|²·BCE(s, t) on positives, s²·BCE(s, 0) elsewhere.
      for (let i = 0; i < Q * C; i++) {
        const x = pred.logits[b * Q * C + i]!;
        const s = sigmoid(x);
        const tv = tal.get(i);
        sum += tv === undefined ? s ** 2 * softplus(x) : Math.abs(tv - s) ** 2 * (tv * softplus(-x) + (1 - tv) * softplus(x));
      }
    });
    const got = report.losses[`loss_class${m.suffix}`]!;
    const want = sum / numBoxes;
    t.true(Math.abs(got - want) <= 1e-5 * Math.max(1, want), `loss_class${m.suffix}: ${got} vs TAL ${want}`);
  }
  // The recipe's loss on the same model: the last layer's matching and box terms agree (the
  // matcher is unchanged, both one-to-one there), the classification term does not.
  const again = await setup();
  const recipe = await new Trainer(again.model, { loss: 'align' }).evaluateLoss(again.batch);
  t.true(Math.abs(recipe.losses.loss_bbox! - report.losses.loss_bbox!) <= 1e-6 * Math.max(1, recipe.losses.loss_bbox!));
  t.true(Math.abs(recipe.losses.loss_giou! - report.losses.loss_giou!) <= 1e-6 * Math.max(1, recipe.losses.loss_giou!));
  t.true(Math.abs(recipe.losses.loss_class! - report.losses.loss_class!) > 1e-4, 'another classification loss');
});

test('evaluateLoss options: unknown keys and wrong types are errors naming the option', async (t) => {
  const { model, batch } = await setup();
  const trainer = new Trainer(model);
  await t.throwsAsync(trainer.evaluateLoss(batch, { bogus: true } as never), { instanceOf: TypeError, message: /unknown option 'bogus'/ });
  await t.throwsAsync(trainer.evaluateLoss(batch, { returnMatching: 'yes' } as never), { instanceOf: TypeError, message: /^options\.returnMatching: / });
  await t.throwsAsync(trainer.evaluateLoss(batch, { denoising: 1 } as never), { instanceOf: TypeError, message: /^options\.denoising: / });
  await t.throwsAsync(trainer.evaluateLoss(batch, { denoising: true, seed: 1.5 }), { instanceOf: RangeError, message: /^options\.seed: / });
  await t.throwsAsync(trainer.evaluateLoss(batch, { denoising: true, seed: -2 }), { instanceOf: RangeError, message: /^options\.seed: / });
  await t.throwsAsync(trainer.evaluateLoss(batch, { denoising: true, seed: '3' } as never), { instanceOf: TypeError, message: /^options\.seed: / });
  await t.throwsAsync(trainer.evaluateLoss(batch, { seed: 3 }), { instanceOf: TypeError, message: /^options\.seed: .*denoising/ });
  await t.throwsAsync(trainer.evaluateLoss(batch, 7 as never), { instanceOf: TypeError, message: /^options: / });
});
