// ops.alignLoss / ops.alignTargets: every loss kind against golden values and autograd gradients
// of an independent PyTorch transcription of the formulas of docs/numerical-contract.md (test/fixtures/align-loss, made
// by make_align_loss_fixtures.py; saturated logits ±30 / ±100 included), float64 finite
// differences of the op's own loss, SD-DETR's task alignment loss ('sd-align') against the values
// of docs/neighbour-methods.md §3 SD-T5 and against IA-BCE (SD-T6), and every argument error.
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
  for (const [alpha, gamma] of [[0.75, 2], [0.5, 1.5]] as const) {
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
  const kinds: AlignLossKind[] = ['align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino', 'sd-align'];
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
      up[i]! += h;
      down[i]! -= h;
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
  // The paper figure's example A: s = 0.2, IoU = 0.9 → q ≈ 0.618 (docs/numerical-contract.md §D.2).
  const fig = fixtures.targets.find((c) => c.name === 'figure-A-k3')!;
  t.is(Math.round(fig.quality[0]! * 1000) / 1000, 0.618);
});

// ---- SD-DETR's task alignment loss ('sd-align') ------------------------------------------------

const logitOf = (s: number): number => Math.log(s / (1 - s));

/** The loss sum of entries at probabilities `s` with targets `t`, all positive or all negative. */
function sdAlignLoss(s: number[], t: number[], positive: boolean, options: AlignLossOptions = {}): number {
  const x = floats(s.map(logitOf), [s.length], 'float64');
  const tg = floats(t, [s.length], 'float64');
  const p = mask(s.map(() => (positive ? 1 : 0)), [s.length]);
  try {
    return ops.alignLoss(x, tg, p, null, { kind: 'sd-align', grad: false, ...options }).loss;
  } finally {
    for (const tensor of [x, tg, p]) tensor.dispose();
  }
}

test('sd-align: SD-T5 targets t = s^0.25·u^0.75, positive terms |t − s|²·BCE(s, t) and negative terms s²·BCE(s, 0)', (t) => {
  // docs/neighbour-methods.md §3 SD-T5, each to half a unit of its last printed digit.
  const cases = [
    { s: 0.2, u: 0.9, t: 0.617930, term: 0.188600 },
    { s: 0.9, u: 0.2, t: 0.291295, term: 0.616009 },
    { s: 0.5, u: 0.5, t: 0.5, term: 0 },
  ];
  const prob = floats(cases.map((c) => c.s), [3], 'float64');
  const iou = floats(cases.map((c) => c.u), [3], 'float64');
  const groups = int64([0, 0, 0]);
  // 'sd-align' targets: q unclamped, and no prime weights by default (one GT, three predictions).
  const r = ops.alignTargets(prob, iou, groups, { kind: 'sd-align' });
  const target = values(r.target);
  t.deepEqual(values(r.weight), [1, 1, 1]);
  t.deepEqual(target, values(r.quality));
  for (const [i, c] of cases.entries()) {
    t.true(Math.abs(target[i]! - c.t) <= 5e-7, `t(${c.s}, ${c.u}) = ${target[i]} vs ${c.t}`);
    const term = sdAlignLoss([c.s], [target[i]!], true);
    t.true(Math.abs(term - c.term) <= 5e-7, `term(${c.s}, ${c.u}) = ${term} vs ${c.term}`);
    // Probability space with plain logs gives the same as the op's logit space.
    const probSpace = Math.abs(target[i]! - c.s) ** 2 * -(target[i]! * Math.log(c.s) + (1 - target[i]!) * Math.log(1 - c.s));
    t.true(Math.abs(term - probSpace) <= 1e-12 * Math.max(1, probSpace), `logit vs probability space: ${term} vs ${probSpace}`);
  }
  for (const [s, want, tol] of [[0.2, 0.0089257, 5e-8], [0.5, 0.173287, 5e-7]] as const) {
    const term = sdAlignLoss([s], [0.9], false);
    t.true(Math.abs(term - want) <= tol, `negative s = ${s}: ${term} vs ${want}`);
  }
  // γ is TAL's exponent on both terms; qflBeta is QFL's alone.
  const one = sdAlignLoss([0.2], [target[0]!], true);
  t.is(sdAlignLoss([0.2], [target[0]!], true, { qflBeta: 5 }), one);
  t.not(sdAlignLoss([0.2], [target[0]!], true, { gamma: 1 }), one);
  t.true(Math.abs(sdAlignLoss([0.5], [0], false, { gamma: 1 }) - 0.5 * Math.log(2)) < 1e-15);
  for (const tensor of [prob, iou, groups, r.quality, r.rank, r.weight, r.target]) tensor.dispose();
});

test('sd-align: saturated logits (±30, ±100) give finite losses and gradients; gradients match finite differences with t constant', (t) => {
  const xs = [-100, -30, 30, 100, -30, 30];
  const pos = [1, 1, 1, 1, 0, 0];
  const tgs = [0.6, 0.0, 1.0, 0.3, 0, 0];
  for (const dtype of ['float32', 'float64'] as const) {
    const x = floats(xs, [6], dtype);
    const tg = floats(tgs, [6], dtype);
    const p = mask(pos, [6]);
    const r = ops.alignLoss(x, tg, p, null, { kind: 'sd-align' });
    t.true(Number.isFinite(r.loss) && values(r.gradLogits!).every(Number.isFinite), dtype);
    for (const tensor of [x, tg, p, r.gradLogits]) tensor?.dispose();
  }
  // The scalar formula in logit space: −log s = softplus(−x), −log(1 − s) = softplus(x).
  const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  const f = (x: number, tv: number, positive: boolean): number => {
    const s = 1 / (1 + Math.exp(-x));
    return positive ? Math.abs(tv - s) ** 2 * (tv * softplus(-x) + (1 - tv) * softplus(x)) : s ** 2 * softplus(x);
  };
  const grid = [-5, -1.2, -0.1, 0.3, 2.2, 6];
  const tv = [0.7, 0.2, 0.5, 0.05, 0.95, 0.4];
  for (const positive of [true, false]) {
    const x = floats(grid, [grid.length], 'float64');
    const tg = floats(tv, [grid.length], 'float64');
    const p = mask(grid.map(() => (positive ? 1 : 0)), [grid.length]);
    const r = ops.alignLoss(x, tg, p, null, { kind: 'sd-align' });
    const g = values(r.gradLogits!);
    const h = 1e-6;
    const fd = grid.map((v, i) => (f(v + h, tv[i]!, positive) - f(v - h, tv[i]!, positive)) / (2 * h));
    const want = grid.reduce((acc, v, i) => acc + f(v, tv[i]!, positive), 0);
    t.true(Math.abs(r.loss - want) <= 1e-12 * Math.max(1, want), `${positive ? 'positive' : 'negative'}: ${r.loss} vs ${want}`);
    t.true(maxRel(g, fd, 1e-6) < 1e-6, `${positive ? 'positive' : 'negative'}: gradient vs finite differences ${maxRel(g, fd, 1e-6)}`);
    for (const tensor of [x, tg, p, r.gradLogits]) tensor?.dispose();
  }
});

test('sd-align: SD-T6, without the |t − s|^γ factor and with k = 1 it is IA-BCE apart from the 0.01 clamp', (t) => {
  const s = [0.2, 0.9, 0.5, 0.03, 0.002];
  const u = [0.9, 0.2, 0.5, 0.7, 0.001];  // the last pair has q ≈ 0.0038 < 0.01
  const prob = floats(s, [5], 'float64');
  const iou = floats(u, [5], 'float64');
  const groups = int64([0, 1, 2, 3, 4]);
  const sd = ops.alignTargets(prob, iou, groups, { kind: 'sd-align' });
  const ia = ops.alignTargets(prob, iou, groups, { kind: 'ia-bce', primeWeights: false });
  const tSd = values(sd.target);
  const tIa = values(ia.target);
  const iaBce = (i: number, target: number): number => {
    const x = floats([logitOf(s[i]!)], [1], 'float64');
    const tg = floats([target], [1], 'float64');
    const p = mask([1], [1]);
    const loss = ops.alignLoss(x, tg, p, null, { kind: 'ia-bce', grad: false }).loss;
    for (const tensor of [x, tg, p]) tensor.dispose();
    return loss;
  };
  for (let i = 0; i < 5; i++) {
    // γ = 0 removes the factor on positives (|t − s|^0 = 1).
    const noFactor = sdAlignLoss([s[i]!], [tSd[i]!], true, { gamma: 0 });
    const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-13 * Math.max(1, Math.abs(b));
    t.true(close(noFactor, iaBce(i, tSd[i]!)), `entry ${i}: equals IA-BCE with the same target`);
    if (tSd[i]! < 0.01) {
      t.is(tIa[i], 0.01);
      t.false(close(noFactor, iaBce(i, tIa[i]!)), `entry ${i}: the clamp is the difference`);
    } else {
      t.true(close(noFactor, iaBce(i, tIa[i]!)), `entry ${i}: equals IA-BCE with its own target`);
    }
  }
  t.true(tSd[4]! < 0.01, 'a clamped entry is covered');
  // Negatives: the same s^γ·BCE(s, 0).
  const neg = sdAlignLoss(s, tSd, false);
  const x = floats(s.map(logitOf), [5], 'float64');
  const none = mask([0, 0, 0, 0, 0], [5]);
  const iaNeg = ops.alignLoss(x, sd.target, none, null, { kind: 'ia-bce', grad: false }).loss;
  t.true(Math.abs(neg - iaNeg) <= 1e-14 * iaNeg, `negatives ${neg} vs ${iaNeg}`);
  for (const tensor of [prob, iou, groups, x, none, sd.quality, sd.rank, sd.weight, sd.target, ia.quality, ia.rank, ia.weight, ia.target]) tensor.dispose();
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
    [[prob, iou, groups, { kind: 'focal' }], RangeError, /^kind: targets are defined for 'align', 'ia-bce' and 'sd-align'/],
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
