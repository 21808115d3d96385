// ops.alignLoss / ops.alignTargets: every loss kind against golden values and autograd gradients
// of an independent PyTorch transcription of the spec's formulas (test/fixtures/align-loss, made
// by make_align_loss_fixtures.py; saturated logits ±30 / ±100 included), float64 finite
// differences of the op's own loss, and every argument error.
import test from 'ava';
import { Tensor, ops } from '../lib/index';
import type { AlignLossKind, AlignLossOptions } from '../lib/ops/index';
import { floats, int64, loadFixture, maxRel, rng, values } from './helpers/support';
import type { Float } from './helpers/support';

// ---- fixtures and helpers --------------------------------------------------------------------

interface Params { gamma: number; focalAlpha: number; vflAlpha: number; qflBeta: number }

interface LossCase {
  name: string;
  kind: AlignLossKind;
  params: Params;
  shape: number[];
  logits: number[];
  target: number[];
  positive: number[];
  weights: number[] | null;
  loss: number;
  grad: number[];
}

interface TargetCase {
  name: string;
  kind: 'align' | 'ia-bce';
  k: number;
  tau: number;
  primeWeights: boolean;
  prob: number[];
  iou: number[];
  groups: number[];
  quality: number[];
  rank: number[];
  weight: number[];
  target: number[];
}

const fixtures = loadFixture<{ cases: LossCase[]; targets: TargetCase[] }>('align-loss/align_loss_fixtures.json');

function mask(data: ArrayLike<number>, shape: number[]): Tensor {
  return Tensor.from(Uint8Array.from(data), shape);
}

function optionsOf(c: LossCase): AlignLossOptions {
  return { kind: c.kind, ...c.params };
}

function runCase(c: LossCase, dtype: Float, extra: AlignLossOptions = {}) {
  const x = floats(c.logits, c.shape, dtype);
  const t = floats(c.target, c.shape, dtype);
  const p = mask(c.positive, c.shape);
  const w = c.weights === null ? null : floats(c.weights, c.shape, dtype);
  try {
    const r = ops.alignLoss(x, t, p, w, { ...optionsOf(c), ...extra });
    const grad = r.gradLogits === null ? null : values(r.gradLogits);
    r.gradLogits?.dispose();
    return { loss: r.loss, grad };
  } finally {
    for (const tensor of [x, t, p, w]) tensor?.dispose();
  }
}

// ---- golden values ---------------------------------------------------------------------------

test('every kind matches the float64 reference loss and autograd gradient to ~1e-10', (t) => {
  t.true(fixtures.cases.length >= 18);
  for (const c of fixtures.cases) {
    const r = runCase(c, 'float64');
    const tol = 1e-10 * Math.max(1, Math.abs(c.loss));
    t.true(Math.abs(r.loss - c.loss) <= tol, `${c.name}: loss ${r.loss} vs ${c.loss}`);
    const d = maxRel(r.grad!, c.grad, 1e-6);
    t.true(d < 1e-10, `${c.name}: gradient max rel diff ${d}`);
  }
});

test('float32 logits match the reference to 1e-5 and keep float32 gradients', (t) => {
  for (const c of fixtures.cases) {
    const x = floats(c.logits, c.shape, 'float32');
    const tg = floats(c.target, c.shape, 'float64');
    const p = mask(c.positive, c.shape);
    const w = c.weights === null ? null : floats(c.weights, c.shape, 'float64');
    const r = ops.alignLoss(x, tg, p, w, optionsOf(c));
    t.is(r.gradLogits!.dtype, 'float32');
    t.true(Math.abs(r.loss - c.loss) <= 1e-5 * Math.max(1, Math.abs(c.loss)), `${c.name}: loss ${r.loss} vs ${c.loss}`);
    const d = maxRel(values(r.gradLogits!), c.grad, 1e-3);
    t.true(d < 1e-5, `${c.name}: float32 gradient max rel diff ${d}`);
    for (const tensor of [x, tg, p, w, r.gradLogits]) tensor?.dispose();
  }
});

test('saturated logits (±30, ±100) give finite losses and gradients in both dtypes', (t) => {
  const extreme = fixtures.cases.filter((c) => c.name.endsWith('-extreme'));
  t.is(extreme.length, 6);
  for (const c of extreme) {
    t.true(c.logits.some((v) => Math.abs(v) === 100) && c.logits.some((v) => Math.abs(v) === 30));
    for (const dtype of ['float32', 'float64'] as const) {
      const r = runCase(c, dtype);
      t.true(Number.isFinite(r.loss) && r.grad!.every(Number.isFinite), `${c.name} ${dtype}`);
    }
  }
});

test('the default kind is the Align loss with γ = 2', (t) => {
  const c = fixtures.cases.find((x) => x.name === 'align-default')!;
  const x = floats(c.logits, c.shape, 'float64');
  const tg = floats(c.target, c.shape, 'float64');
  const p = mask(c.positive, c.shape);
  const r = ops.alignLoss(x, tg, p);
  t.true(Math.abs(r.loss - c.loss) < 1e-10 * c.loss);
  const noGrad = ops.alignLoss(x, tg, p, null, { grad: false });
  t.is(noGrad.gradLogits, null);
  t.is(noGrad.loss, r.loss);
  for (const tensor of [x, tg, p, r.gradLogits]) tensor?.dispose();
});

test('vfl: a positive whose target is 0 takes the negative branch α·p^γ·BCE(p, 0) (VarifocalNet), t > 0 keeps t·BCE(p, t)', (t) => {
  const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  const xs = [-4, -0.3, 0, 0.8, 3, 12];
  for (const [alpha, gamma] of [[0.75, 2], [0.5, 1.5]]) {
    for (const tv of [0, 0.4]) {
      const x = floats(xs, [xs.length], 'float64');
      const tg = floats(xs.map(() => tv), [xs.length], 'float64');
      const pos = mask(xs.map(() => 1), [xs.length]);
      const r = ops.alignLoss(x, tg, pos, null, { kind: 'vfl', vflAlpha: alpha, gamma });
      // Scalar formula: −log p = softplus(−x), −log(1 − p) = softplus(x).
      const want = xs.reduce((acc, v) => {
        const p = 1 / (1 + Math.exp(-v));
        return acc + (tv > 0 ? tv * (tv * softplus(-v) + (1 - tv) * softplus(v)) : alpha * p ** gamma * softplus(v));
      }, 0);
      t.true(Math.abs(r.loss - want) <= 1e-12 * Math.max(1, want), `t = ${tv}, α = ${alpha}: ${r.loss} vs ${want}`);
      if (tv === 0) t.true(r.loss > 0, 'not the zero of t·BCE');
      for (const tensor of [x, tg, pos, r.gradLogits]) tensor?.dispose();
    }
  }
  const golden = fixtures.cases.filter((c) => c.name.startsWith('vfl-zero-target'));
  t.is(golden.length, 2);
  for (const c of golden) t.true(c.target.some((v, i) => c.positive[i] === 1 && v === 0), `${c.name} has positives with target 0`);
});

// ---- finite differences ------------------------------------------------------------------------

test('gradients equal central finite differences of the loss (float64)', (t) => {
  const kinds: AlignLossKind[] = ['align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino'];
  const rows = 5;
  const cols = 4;
  for (const [k, kind] of kinds.entries()) {
    const rand = rng(40 + k);
    const logits = Array.from({ length: rows * cols }, () => (rand() - 0.5) * 8);
    const target = new Array<number>(rows * cols).fill(0);
    const positive = new Array<number>(rows * cols).fill(0);
    for (let r = 0; r < rows - 1; ++r) {
      const c = Math.floor(rand() * cols);
      positive[r * cols + c] = 1;
      target[r * cols + c] = 0.05 + 0.9 * rand();
    }
    const weights = Array.from({ length: rows * cols }, () => 0.5 + rand());
    const tg = floats(target, [rows, cols], 'float64');
    const p = mask(positive, [rows, cols]);
    const w = floats(weights, [rows, cols], 'float64');
    const options: AlignLossOptions = { kind, gamma: 1.7, qflBeta: 1.6 };
    const lossAt = (xs: number[]): number => {
      const x = floats(xs, [rows, cols], 'float64');
      const r = ops.alignLoss(x, tg, p, w, { ...options, grad: false });
      x.dispose();
      return r.loss;
    };
    const x = floats(logits, [rows, cols], 'float64');
    const g = values(ops.alignLoss(x, tg, p, w, options).gradLogits!);
    x.dispose();
    const h = 1e-5;
    const fd = logits.map((_, i) => {
      const up = logits.slice();
      const down = logits.slice();
      up[i] += h;
      down[i] -= h;
      return (lossAt(up) - lossAt(down)) / (2 * h);
    });
    const d = maxRel(g, fd, 1e-3);  // the floor absorbs float64 rounding of the differences
    t.true(d < 1e-6, `${kind}: gradient vs finite differences, max rel diff ${d}`);
    for (const tensor of [tg, p, w]) tensor.dispose();
  }
});

// ---- targets -----------------------------------------------------------------------------------

test('alignTargets matches the reference quality, ranks, prime weights and targets', (t) => {
  for (const c of fixtures.targets) {
    const prob = floats(c.prob, [c.prob.length], 'float64');
    const iou = floats(c.iou, [c.iou.length], 'float64');
    const groups = int64(c.groups);
    const r = ops.alignTargets(prob, iou, groups, { kind: c.kind, tau: c.tau, primeWeights: c.primeWeights });
    t.true(maxRel(values(r.quality), c.quality, 1e-12) < 1e-12, `${c.name}: quality`);
    t.deepEqual(Array.from(r.rank.toTypedArray() as BigInt64Array, Number), c.rank, `${c.name}: rank`);
    t.true(maxRel(values(r.weight), c.weight, 1e-12) < 1e-12, `${c.name}: weight`);
    t.true(maxRel(values(r.target), c.target, 1e-12) < 1e-12, `${c.name}: target`);
    for (const tensor of [prob, iou, groups, r.quality, r.rank, r.weight, r.target]) tensor.dispose();
  }
  // The paper figure's example A: s = 0.2, IoU = 0.9 → q ≈ 0.618 (spec §d.2).
  const fig = fixtures.targets.find((c) => c.name === 'figure-A-k3')!;
  t.is(Math.round(fig.quality[0] * 1000) / 1000, 0.618);
});

// ---- argument errors ---------------------------------------------------------------------------

test('alignLoss rejects bad arguments with errors naming them', (t) => {
  const x = floats([0.1, -0.2, 0.3, 0.4, -1, 2], [2, 3], 'float64');
  const tg = floats([0, 0.5, 0, 0.7, 0, 0], [2, 3], 'float64');
  const p = mask([0, 1, 0, 1, 0, 0], [2, 3]);
  const wrongShape = floats([0, 0, 0, 0, 0, 0], [3, 2], 'float64');
  const ints = Tensor.from(Int32Array.from([0, 1, 0, 1, 0, 0]), [2, 3]);
  const disposed = floats([1, 2, 3, 4, 5, 6], [2, 3], 'float64');
  disposed.dispose();
  type Args = [unknown, unknown, unknown, unknown, unknown];
  const call = (a: Args) => (ops.alignLoss as (...args: unknown[]) => unknown)(...a);
  const cases: [Args, ErrorConstructor, RegExp][] = [
    [[{}, tg, p, null, {}], TypeError, /^logits/],
    [[x, undefined, p, null, {}], TypeError, /^target/],
    [[x, tg, 'mask', null, {}], TypeError, /^positive/],
    [[x, tg, p, 3, {}], TypeError, /^weights/],
    [[disposed, tg, p, null, {}], TypeError, /^logits/],
    [[ints, tg, p, null, {}], TypeError, /^logits: dtype/],
    [[x, ints, p, null, {}], TypeError, /^target: dtype/],
    [[x, tg, tg, null, {}], TypeError, /^positive: dtype/],
    [[x, tg, p, ints, {}], TypeError, /^weights: dtype/],
    [[x, wrongShape, p, null, {}], RangeError, /^target: shape/],
    [[x, tg, mask([0, 1, 0, 1, 0, 0], [3, 2]), null, {}], RangeError, /^positive: shape/],
    [[x, tg, p, wrongShape, {}], RangeError, /^weights: shape/],
    [[x, tg, p, null, 'align'], TypeError, /^options/],
    [[x, tg, p, null, { kind: 'bce' }], RangeError, /^options\.kind: unknown loss/],
    [[x, tg, p, null, { kind: 3 }], TypeError, /^options\.kind/],
    [[x, tg, p, null, { alpha: 0.25 }], TypeError, /^options: unknown option 'alpha'/],
    [[x, tg, p, null, { gamma: '2' }], TypeError, /^options\.gamma: expected a number/],
    [[x, tg, p, null, { gamma: -1 }], RangeError, /^options\.gamma/],
    [[x, tg, p, null, { gamma: NaN }], RangeError, /^options\.gamma/],
    [[x, tg, p, null, { focalAlpha: 1.5 }], RangeError, /^options\.focalAlpha/],
    [[x, tg, p, null, { vflAlpha: -0.1 }], RangeError, /^options\.vflAlpha/],
    [[x, tg, p, null, { qflBeta: 17 }], RangeError, /^options\.qflBeta/],
    [[x, tg, p, null, { grad: 1 }], TypeError, /^options\.grad: expected a boolean/],
  ];
  for (const [args, ctor, message] of cases) {
    const err = t.throws(() => call(args), { instanceOf: ctor }, `${String(message)}`);
    t.regex(err!.message, message);
  }
  for (const tensor of [x, tg, p, wrongShape, ints]) tensor.dispose();
});

test('alignTargets rejects bad arguments with errors naming them', (t) => {
  const prob = floats([0.5, 0.6], [2], 'float64');
  const iou = floats([0.7, 0.8], [2], 'float64');
  const groups = int64([0, 0]);
  const short = floats([0.7], [1], 'float64');
  type Args = [unknown, unknown, unknown, unknown];
  const call = (a: Args) => (ops.alignTargets as (...args: unknown[]) => unknown)(...a);
  const cases: [Args, ErrorConstructor, RegExp][] = [
    [[null, iou, groups, {}], TypeError, /^prob/],
    [[prob, iou, prob, {}], TypeError, /^groups: dtype/],
    [[groups, iou, groups, {}], TypeError, /^prob: dtype/],
    [[prob, short, groups, {}], RangeError, /^iou: must be 1-D of length K = 2/],
    [[prob, iou, int64([0]), {}], RangeError, /^groups: must be 1-D of length K = 2/],
    [[prob, iou, groups, { kind: 'focal' }], RangeError, /^kind: targets are defined for 'align' and 'ia-bce'/],
    [[prob, iou, groups, { tau: 0 }], RangeError, /^options\.tau/],
    [[prob, iou, groups, { alpha: 2 }], RangeError, /^options\.alpha/],
    [[prob, iou, groups, { minQuality: -1 }], RangeError, /^options\.minQuality/],
    [[prob, iou, groups, { gamma: 2 }], TypeError, /^options: unknown option 'gamma'/],
    [[prob, iou, groups, { primeWeights: 'yes' }], TypeError, /^options\.primeWeights/],
  ];
  for (const [args, ctor, message] of cases) {
    const err = t.throws(() => call(args), { instanceOf: ctor }, `${String(message)}`);
    t.regex(err!.message, message);
  }
  for (const tensor of [prob, iou, groups, short]) tensor.dispose();
});
