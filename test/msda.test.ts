// ops.msDeformAttn / ops.msDeformAttnBackward: forward and gradients against golden fixtures
// from PyTorch's grid_sample composition (test/fixtures/msda, made by make_msda_fixtures.py),
// a float64 finite-difference gradient check, adjoint identities tying backward to forward,
// and every argument error.
import test from 'ava';
import { Tensor, ops } from '../lib/index';
import { floats, int64, loadFixture, maxAbsDiff, rng } from './helpers/support';
import type { Float } from './helpers/support';

// ---- helpers ---------------------------------------------------------------------------------

interface FixtureCase {
  name: string;
  N: number; Q: number; M: number; D: number; L: number; P: number;
  spatialShapes: number[][];
  levelStartIndex: number[];
  value: number[];
  samplingLocations: number[];
  attentionWeights: number[];
  gradOutput: number[];
  output: number[];
  gradValue: number[];
  gradSamplingLocations: number[];
  gradAttentionWeights: number[];
}

const fixtures = loadFixture<{ cases: FixtureCase[] }>('msda/msda_fixtures.json');

interface Problem {
  N: number; Q: number; M: number; D: number; P: number;
  levels: [number, number][];
  value: Float64Array; loc: Float64Array; attn: Float64Array; gradOut: Float64Array;
}

function randomProblem(seed: number, N: number, Q: number, M: number, D: number, P: number,
  levels: [number, number][]): Problem {
  const r = rng(seed);
  const S = levels.reduce((s, [h, w]) => s + h * w, 0);
  const L = levels.length;
  const fill = (n: number, f: () => number): Float64Array => Float64Array.from({ length: n }, f);
  return {
    N, Q, M, D, P, levels,
    value: fill(N * S * M * D, () => r() * 2 - 1),
    loc: fill(N * Q * M * L * P * 2, () => r() * 1.4 - 0.2),
    attn: fill(N * Q * M * L * P, () => r()),
    gradOut: fill(N * Q * M * D, () => r() * 2 - 1),
  };
}

/** Tensors of a problem (dtype float64 unless told). */
function tensorsOf(p: Problem, dtype: Float = 'float64') {
  const S = p.levels.reduce((s, [h, w]) => s + h * w, 0);
  const L = p.levels.length;
  const starts: number[] = [];
  let acc = 0;
  for (const [h, w] of p.levels) {
    starts.push(acc);
    acc += h * w;
  }
  return {
    value: floats(p.value, [p.N, S, p.M, p.D], dtype),
    spatialShapes: int64(p.levels.flat(), [L, 2]),
    levelStartIndex: int64(starts, [L]),
    samplingLocations: floats(p.loc, [p.N, p.Q, p.M, L, p.P, 2], dtype),
    attentionWeights: floats(p.attn, [p.N, p.Q, p.M, L, p.P], dtype),
    gradOutput: floats(p.gradOut, [p.N, p.Q, p.M * p.D], dtype),
  };
}

function forward(t: ReturnType<typeof tensorsOf>): Tensor {
  return ops.msDeformAttn(t.value, t.spatialShapes, t.levelStartIndex, t.samplingLocations, t.attentionWeights);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---- golden fixtures (grid_sample reference) ---------------------------------------------------

for (const dtype of ['float64', 'float32'] as const) {
  // float32 results are compared with the float64 reference on float32-rounded inputs.
  const tol = dtype === 'float64' ? 1e-12 : 2e-5;
  for (const c of fixtures.cases) {
    test(`${dtype}: forward and gradients match the grid_sample reference (${c.name})`, (t) => {
      const S = c.value.length / (c.N * c.M * c.D);
      const args = {
        value: floats(c.value, [c.N, S, c.M, c.D], dtype),
        spatialShapes: int64(c.spatialShapes.flat(), [c.L, 2]),
        levelStartIndex: int64(c.levelStartIndex, [c.L]),
        samplingLocations: floats(c.samplingLocations, [c.N, c.Q, c.M, c.L, c.P, 2], dtype),
        attentionWeights: floats(c.attentionWeights, [c.N, c.Q, c.M, c.L, c.P], dtype),
      };
      const out = forward({ ...args, gradOutput: floats(c.gradOutput, [c.N, c.Q, c.M * c.D], dtype) });
      t.deepEqual(out.shape, [c.N, c.Q, c.M * c.D]);
      t.is(out.dtype, dtype);
      t.true(maxAbsDiff(out.toTypedArray() as Float64Array, c.output) < tol, 'output');

      const g = ops.msDeformAttnBackward(args.value, args.spatialShapes, args.levelStartIndex,
        args.samplingLocations, args.attentionWeights, floats(c.gradOutput, [c.N, c.Q, c.M * c.D], dtype));
      t.deepEqual(g.gradValue.shape, args.value.shape);
      t.deepEqual(g.gradSamplingLocations.shape, args.samplingLocations.shape);
      t.deepEqual(g.gradAttentionWeights.shape, args.attentionWeights.shape);
      t.is(g.gradValue.dtype, dtype);
      const e = {
        gradValue: maxAbsDiff(g.gradValue.toTypedArray() as Float64Array, c.gradValue),
        gradSamplingLocations: maxAbsDiff(g.gradSamplingLocations.toTypedArray() as Float64Array,
          c.gradSamplingLocations),
        gradAttentionWeights: maxAbsDiff(g.gradAttentionWeights.toTypedArray() as Float64Array,
          c.gradAttentionWeights),
      };
      t.true(e.gradValue < tol, `gradValue ${e.gradValue}`);
      // Location gradients carry a factor W or H (up to 7 here) and sum over D channels.
      t.true(e.gradSamplingLocations < tol * 20, `gradSamplingLocations ${e.gradSamplingLocations}`);
      t.true(e.gradAttentionWeights < tol, `gradAttentionWeights ${e.gradAttentionWeights}`);
    });
  }
}

// ---- finite differences (float64) ---------------------------------------------------------------

test('float64 gradients equal central finite differences of the forward', (t) => {
  const p = randomProblem(11, 2, 3, 2, 3, 2, [[4, 3], [2, 2], [1, 1]]);
  const base = tensorsOf(p);
  const g = ops.msDeformAttnBackward(base.value, base.spatialShapes, base.levelStartIndex,
    base.samplingLocations, base.attentionWeights, base.gradOutput);
  // loss(p) = Σ out · gradOut, so ∂loss/∂x = the returned gradient.
  const loss = (q: Problem): number => dot(forward(tensorsOf(q)).toTypedArray() as Float64Array, p.gradOut);
  const eps = 1e-6;
  const check = (field: 'value' | 'loc' | 'attn', analytic: Float64Array) => {
    let worst = 0;
    for (let i = 0; i < p[field].length; i++) {
      const plus = { ...p, [field]: Float64Array.from(p[field]) };
      const minus = { ...p, [field]: Float64Array.from(p[field]) };
      plus[field][i]! += eps;
      minus[field][i]! -= eps;
      const numeric = (loss(plus) - loss(minus)) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - analytic[i]!) / Math.max(1, Math.abs(analytic[i]!)));
    }
    t.true(worst < 1e-6, `${field}: worst relative error ${worst}`);
  };
  check('value', g.gradValue.toTypedArray() as Float64Array);
  check('loc', g.gradSamplingLocations.toTypedArray() as Float64Array);
  check('attn', g.gradAttentionWeights.toTypedArray() as Float64Array);
});

// ---- backward consistent with forward -----------------------------------------------------------

test('backward is the adjoint of forward: <g, out> = <gradValue, value> = <gradAttn, attn>', (t) => {
  // The output is linear in value and in attentionWeights, so both inner products equal <g, out>.
  const p = randomProblem(5, 2, 40, 4, 32, 4, [[12, 17], [6, 9], [3, 5], [2, 3]]);
  for (const dtype of ['float64', 'float32'] as const) {
    const a = tensorsOf(p, dtype);
    const out = forward(a).toTypedArray() as Float64Array;
    const g = ops.msDeformAttnBackward(a.value, a.spatialShapes, a.levelStartIndex, a.samplingLocations,
      a.attentionWeights, a.gradOutput);
    const ref = dot(p.gradOut, out);
    const tol = dtype === 'float64' ? 1e-9 : 1e-3;
    t.true(Math.abs(dot(g.gradValue.toTypedArray() as Float64Array, p.value) - ref) < tol * Math.abs(ref) + tol);
    t.true(Math.abs(dot(g.gradAttentionWeights.toTypedArray() as Float64Array, p.attn) - ref) <
      tol * Math.abs(ref) + tol);
  }
});

test('int32 level tables give the same result as int64; empty batches give empty results', (t) => {
  const p = randomProblem(3, 1, 4, 2, 5, 2, [[3, 3], [1, 2]]);
  const a = tensorsOf(p);
  const with32 = ops.msDeformAttn(a.value, Tensor.from(Int32Array.from([3, 3, 1, 2]), [2, 2]),
    Tensor.from(Int32Array.from([0, 9]), [2]), a.samplingLocations, a.attentionWeights);
  t.deepEqual(with32.toTypedArray(), forward(a).toTypedArray());
  const noLoc = floats([], [1, 0, 2, 2, 2, 2], 'float64');
  const noAttn = floats([], [1, 0, 2, 2, 2], 'float64');
  const empty = ops.msDeformAttn(a.value, a.spatialShapes, a.levelStartIndex, noLoc, noAttn);
  t.deepEqual(empty.shape, [1, 0, 10]);
  const g = ops.msDeformAttnBackward(a.value, a.spatialShapes, a.levelStartIndex, noLoc, noAttn,
    floats([], [1, 0, 10], 'float64'));
  t.deepEqual(g.gradValue.shape, [1, 11, 2, 5]);
  t.true((g.gradValue.toTypedArray() as Float64Array).every((x) => x === 0));
  t.deepEqual(g.gradSamplingLocations.shape, [1, 0, 2, 2, 2, 2]);
});

// ---- argument errors ----------------------------------------------------------------------------

test('every argument is validated, with an error naming it', (t) => {
  const p = randomProblem(1, 2, 3, 2, 4, 2, [[3, 2], [1, 1]]); // S = 7, L = 2
  const a = tensorsOf(p);
  const f64 = (shape: number[]) => floats(new Float64Array(shape.reduce((x, y) => x * y, 1)), shape, 'float64');
  const call = (o: Partial<typeof a>) => {
    const x = { ...a, ...o };
    return () => ops.msDeformAttn(x.value, x.spatialShapes, x.levelStartIndex, x.samplingLocations,
      x.attentionWeights);
  };
  const callBack = (o: Partial<typeof a>) => {
    const x = { ...a, ...o };
    return () => ops.msDeformAttnBackward(x.value, x.spatialShapes, x.levelStartIndex, x.samplingLocations,
      x.attentionWeights, x.gradOutput);
  };
  const typeErr = (fn: () => unknown, re: RegExp) => t.throws(fn, { instanceOf: TypeError, message: re });
  const rangeErr = (fn: () => unknown, re: RegExp) => t.throws(fn, { instanceOf: RangeError, message: re });

  // Not a tensor / disposed.
  typeErr(call({ value: [1, 2] as unknown as Tensor }), /^value: expected a Tensor/);
  typeErr(call({ spatialShapes: null as unknown as Tensor }), /^spatialShapes: expected a Tensor/);
  typeErr(call({ levelStartIndex: undefined as unknown as Tensor }), /^levelStartIndex: expected a Tensor/);
  typeErr(call({ samplingLocations: {} as unknown as Tensor }), /^samplingLocations: expected a Tensor/);
  typeErr(call({ attentionWeights: 3 as unknown as Tensor }), /^attentionWeights: expected a Tensor/);
  typeErr(callBack({ gradOutput: 'g' as unknown as Tensor }), /^gradOutput: expected a Tensor/);
  const gone = f64([2, 7, 2, 4]);
  gone.dispose();
  typeErr(call({ value: gone }), /^value: Tensor has been disposed/);

  // value: rank and dtype.
  typeErr(call({ value: f64([2, 7, 8]) }), /^value: must be 4-D/);
  typeErr(call({ value: Tensor.from(new Int32Array(2 * 7 * 2 * 4), [2, 7, 2, 4]) }), /^value: dtype/);
  // spatialShapes / levelStartIndex.
  typeErr(call({ spatialShapes: int64([3, 2, 1, 1], [4]) }), /^spatialShapes: must be 2-D/);
  typeErr(call({ spatialShapes: f64([2, 2]) }), /^spatialShapes: dtype must be int64/);
  rangeErr(call({ spatialShapes: int64([3, 2, 1, 1, 1, 1], [2, 3]) }), /^spatialShapes: dim 1/);
  rangeErr(call({ spatialShapes: int64([3, 2, 1, 2], [2, 2]) }), /^spatialShapes: the levels cover 8 positions/);
  rangeErr(call({ spatialShapes: int64([7, 1, 0, 1], [2, 2]) }), /^spatialShapes: level 1 has shape \(0, 1\)/);
  // 7905747460161236407 · 7 = 3·2^64 + 1: the product wraps to 1, so the levels would seem to cover S = 7.
  rangeErr(call({ spatialShapes: Tensor.from(new BigInt64Array([3n, 2n, 7905747460161236407n, 7n]), [2, 2]) }),
    /^spatialShapes: level 1 \(7905747460161236407 × 7\) holds more positions than value's S = 7/);
  rangeErr(call({ spatialShapes: int64([], [0, 2]), levelStartIndex: int64([], [0]) }),
    /^spatialShapes: must hold at least one level/);
  typeErr(call({ levelStartIndex: int64([0, 6], [1, 2]) }), /^levelStartIndex: must be 1-D/);
  typeErr(call({ levelStartIndex: f64([2]) }), /^levelStartIndex: dtype must be int64/);
  rangeErr(call({ levelStartIndex: int64([0, 6, 7], [3]) }), /^levelStartIndex: dim 0/);
  rangeErr(call({ levelStartIndex: int64([0, 5], [2]) }), /^levelStartIndex: entry 1 must be 6/);
  // samplingLocations.
  typeErr(call({ samplingLocations: f64([2, 3, 2, 2, 4]) }), /^samplingLocations: must be 6-D/);
  typeErr(call({ samplingLocations: floats(p.loc, [2, 3, 2, 2, 2, 2], 'float32') }),
    /^samplingLocations: dtype must match value/);
  rangeErr(call({ samplingLocations: f64([1, 3, 2, 2, 2, 2]) }), /^samplingLocations: dim 0 \(batch N/);
  rangeErr(call({ samplingLocations: f64([2, 3, 1, 2, 2, 2]) }), /^samplingLocations: dim 2 \(heads M/);
  rangeErr(call({ samplingLocations: f64([2, 3, 2, 3, 2, 2]) }), /^samplingLocations: dim 3 \(levels L/);
  rangeErr(call({ samplingLocations: f64([2, 3, 2, 2, 2, 3]) }), /^samplingLocations: dim 5 \(\(x, y\)\)/);
  // attentionWeights.
  typeErr(call({ attentionWeights: f64([2, 3, 2, 2]) }), /^attentionWeights: must be 5-D/);
  typeErr(call({ attentionWeights: floats(p.attn, [2, 3, 2, 2, 2], 'float32') }),
    /^attentionWeights: dtype must match value/);
  rangeErr(call({ attentionWeights: f64([1, 3, 2, 2, 2]) }), /^attentionWeights: dim 0/);
  rangeErr(call({ attentionWeights: f64([2, 4, 2, 2, 2]) }), /^attentionWeights: dim 1 \(queries Q/);
  rangeErr(call({ attentionWeights: f64([2, 3, 3, 2, 2]) }), /^attentionWeights: dim 2/);
  rangeErr(call({ attentionWeights: f64([2, 3, 2, 1, 2]) }), /^attentionWeights: dim 3/);
  rangeErr(call({ attentionWeights: f64([2, 3, 2, 2, 3]) }), /^attentionWeights: dim 4 \(points P/);
  // gradOutput.
  typeErr(callBack({ gradOutput: f64([2, 3, 2, 4]) }), /^gradOutput: must be 3-D/);
  typeErr(callBack({ gradOutput: floats(p.gradOut, [2, 3, 8], 'float32') }), /^gradOutput: dtype must match value/);
  rangeErr(callBack({ gradOutput: f64([1, 3, 8]) }), /^gradOutput: dim 0/);
  rangeErr(callBack({ gradOutput: f64([2, 2, 8]) }), /^gradOutput: dim 1/);
  rangeErr(callBack({ gradOutput: f64([2, 3, 9]) }), /^gradOutput: dim 2 \(M·D/);
  // The backward validates the forward arguments too.
  rangeErr(callBack({ levelStartIndex: int64([0, 5], [2]) }), /^levelStartIndex: entry 1/);
});
