// ops.linearSumAssignment: optimality against brute force on every shape up to 7x7, index-exact
// parity with scipy's golden answers (test/fixtures/lsa, made by make_lsa_fixtures.py), every
// error path, and the batched entry points equal to single solves.
import test from 'ava';
import { Tensor, ops } from '../lib/index';
import type { Assignment, CostInput } from '../lib/ops/lsa';
import { loadFixture, rng } from './helpers/support';

// ---- helpers ---------------------------------------------------------------------------------

/** Best total over every assignment of min(rows, cols) pairs (±Infinity when none avoids the forbidden entries). */
function bruteForce(data: Float64Array, rows: number, cols: number, maximize: boolean): number {
  const tall = rows > cols;
  const k = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  const used = new Uint8Array(n);
  let best = maximize ? -Infinity : Infinity;
  const visit = (a: number, total: number): void => {
    if (a === k) {
      if (maximize ? total > best : total < best) best = total;
      return;
    }
    for (let b = 0; b < n; b++) {
      if (used[b]) continue;
      used[b] = 1;
      visit(a + 1, total + (tall ? data[b * cols + a]! : data[a * cols + b]!));
      used[b] = 0;
    }
  };
  visit(0, 0);
  return best;
}

/** Checks that `a` is a valid assignment of the matrix and returns its recomputed total. */
function checkValid(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void },
                    a: Assignment, data: ArrayLike<number>, rows: number, cols: number): number {
  t.true(a.rowIndices instanceof Int32Array && a.colIndices instanceof Int32Array, 'Int32Array results');
  t.is(a.rowIndices.length, Math.min(rows, cols), 'one pair per row of the smaller side');
  t.is(a.colIndices.length, a.rowIndices.length);
  const usedCol = new Set<number>();
  let total = 0;
  for (let k = 0; k < a.rowIndices.length; k++) {
    const r = a.rowIndices[k]!;
    const c = a.colIndices[k]!;
    if (k > 0) t.true(a.rowIndices[k - 1]! < r, 'rows ascending and distinct');
    t.true(r >= 0 && r < rows && c >= 0 && c < cols, 'indices in range');
    t.true(!usedCol.has(c), 'columns distinct');
    usedCol.add(c);
    total += data[r * cols + c]!;
  }
  t.is(a.totalCost, total, 'totalCost is the sum of the picked entries');
  return total;
}

// ---- brute force, every shape up to 7x7 -------------------------------------------------------

test('optimal against brute force on every shape up to 7x7 (random, ties, ±inf, maximize)', (t) => {
  const rand = rng(1234);
  let solved = 0;
  let infeasible = 0;
  for (let rows = 1; rows <= 7; rows++) {
    for (let cols = 1; cols <= 7; cols++) {
      const n = rows * cols;
      const generators: Array<[string, (maximize: boolean) => number]> = [
        ['uniform', () => rand() * 20 - 10],
        ['ints{0,1,2}', () => Math.floor(rand() * 3)],
        ['constant', () => 1],
        ['inf p=0.3', (max) => (rand() < 0.3 ? (max ? -Infinity : Infinity) : Math.floor(rand() * 3))],
        ['inf p=0.6', (max) => (rand() < 0.6 ? (max ? -Infinity : Infinity) : rand())],
      ];
      for (const [kind, gen] of generators) {
        for (const maximize of [false, true]) {
          const data = new Float64Array(n);
          for (let k = 0; k < n; k++) data[k] = gen(maximize);
          const best = bruteForce(data, rows, cols, maximize);
          // Alternate between the two input forms.
          const useTensor = (rows + cols + (maximize ? 1 : 0)) % 2 === 0;
          const tensor = useTensor ? Tensor.from(data, [rows, cols]) : undefined;
          const input: CostInput = tensor ?? { data, rows, cols };
          const label = `${kind} ${rows}x${cols} maximize=${maximize}`;
          if (!Number.isFinite(best)) {
            t.throws(() => ops.linearSumAssignment(input, { maximize }), {
              instanceOf: RangeError,
              message: 'cost: matrix is infeasible',
            }, label);
            infeasible++;
          } else {
            const a = ops.linearSumAssignment(input, { maximize });
            const total = checkValid(t, a, data, rows, cols);
            t.true(Math.abs(total - best) <= 1e-9 * (1 + Math.abs(best)), `${label}: ${total} vs brute force ${best}`);
            solved++;
          }
          tensor?.dispose();
        }
      }
    }
  }
  t.true(solved > 300 && infeasible > 20, `covered ${solved} feasible and ${infeasible} infeasible problems`);
});

// ---- scipy golden answers ---------------------------------------------------------------------

interface GoldenCase {
  name: string;
  rows: number;
  cols: number;
  maximize: boolean;
  data: Array<number | string>;
  rowIndices?: number[];
  colIndices?: number[];
  totalCost?: number;
  error?: string;
}

const golden = loadFixture<{ scipy: string; cases: GoldenCase[] }>('lsa/lsa_golden.json');

function decode(values: Array<number | string>): Float64Array {
  const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
  return Float64Array.from(values, (v) => (typeof v === 'string' ? special[v]! : v));
}

// scipy's ValueError messages and ours.
const expectedError: Record<string, RegExp> = {
  'cost matrix is infeasible': /^cost: matrix is infeasible$/,
  'matrix contains invalid numeric entries': /^cost: matrix contains invalid numeric entries \((NaN or -inf|NaN or \+inf with maximize)\)$/,
};

for (const c of golden.cases) {
  test(`scipy ${golden.scipy} golden: ${c.name}${c.maximize ? ' (maximize)' : ''}`, (t) => {
    const data = decode(c.data);
    t.is(data.length, c.rows * c.cols);
    if (c.error !== undefined) {
      const err = t.throws(() => ops.linearSumAssignment({ data, rows: c.rows, cols: c.cols }, { maximize: c.maximize }), {
        instanceOf: RangeError,
      });
      t.regex(err!.message, expectedError[c.error]!);
      return;
    }
    const a = ops.linearSumAssignment({ data, rows: c.rows, cols: c.cols }, { maximize: c.maximize });
    t.deepEqual(Array.from(a.rowIndices), c.rowIndices, 'row indices equal scipy (ties included)');
    t.deepEqual(Array.from(a.colIndices), c.colIndices, 'column indices equal scipy (ties included)');
    t.true(Math.abs(a.totalCost - c.totalCost!) <= 1e-9 * (1 + Math.abs(c.totalCost!)));
    // The same matrix as a float64 Tensor gives the same answer.
    if (c.rows > 0 && c.cols > 0) {
      const tensor = Tensor.from(data, [c.rows, c.cols]);
      const b = ops.linearSumAssignment(tensor, { maximize: c.maximize });
      tensor.dispose();
      t.deepEqual(b, a);
    }
  });
}

// ---- input forms ------------------------------------------------------------------------------

test('float32 input (array or Tensor) equals solving its float64 widening', (t) => {
  const rand = rng(5);
  for (const [rows, cols] of [[900, 7], [40, 60], [60, 40], [3, 3]] as const) {
    const f32 = Float32Array.from({ length: rows * cols }, () => Math.floor(rand() * 50) / 7);
    const f64 = Float64Array.from(f32);
    for (const maximize of [false, true]) {
      const ref = ops.linearSumAssignment({ data: f64, rows, cols }, { maximize });
      t.deepEqual(ops.linearSumAssignment({ data: f32, rows, cols }, { maximize }), ref);
      const tensor = Tensor.from(f32, [rows, cols]);
      t.deepEqual(ops.linearSumAssignment(tensor, { maximize }), ref);
      tensor.dispose();
    }
  }
});

test('a subarray view is read from its own offset', (t) => {
  const backing = new Float64Array([99, 99, 1, 2, 2, 1, 99]);
  const a = ops.linearSumAssignment({ data: backing.subarray(2, 6), rows: 2, cols: 2 });
  t.deepEqual(Array.from(a.colIndices), [0, 1]);
  t.is(a.totalCost, 2);
});

test('empty matrices give empty results', (t) => {
  for (const [rows, cols] of [[900, 0], [0, 5], [0, 0]] as const) {
    const a = ops.linearSumAssignment({ data: new Float64Array(0), rows, cols });
    t.is(a.rowIndices.length, 0);
    t.is(a.colIndices.length, 0);
    t.is(a.totalCost, 0);
    const tensor = Tensor.from(new Float64Array(0), [rows, cols]);
    t.is(ops.linearSumAssignment(tensor).rowIndices.length, 0);
    tensor.dispose();
  }
});

// ---- errors -----------------------------------------------------------------------------------

test('invalid entries and infeasible matrices', (t) => {
  const solve = (values: number[], rows: number, cols: number, maximize = false) => () =>
    ops.linearSumAssignment({ data: Float64Array.from(values), rows, cols }, { maximize });
  const invalidMin = { instanceOf: RangeError, message: 'cost: matrix contains invalid numeric entries (NaN or -inf)' };
  const invalidMax = {
    instanceOf: RangeError,
    message: 'cost: matrix contains invalid numeric entries (NaN or +inf with maximize)',
  };
  t.throws(solve([1, NaN, 3, 4], 2, 2), invalidMin);
  t.throws(solve([1, -Infinity, 3, 4], 2, 2), invalidMin);
  t.throws(solve([1, 2, 3, 4, NaN, 6], 3, 2), invalidMin, 'transposed path checks too');
  t.throws(solve([1, NaN, 3, 4], 2, 2, true), invalidMax);
  t.throws(solve([1, Infinity, 3, 4], 2, 2, true), invalidMax);
  t.throws(() => ops.linearSumAssignment({ data: Float32Array.from([1, NaN]), rows: 1, cols: 2 }), invalidMin);
  t.throws(solve([Infinity, Infinity, 1, 2], 2, 2), { instanceOf: RangeError, message: 'cost: matrix is infeasible' });
  t.throws(solve([-Infinity, -Infinity, 1, 2], 2, 2, true), { instanceOf: RangeError, message: 'cost: matrix is infeasible' });
  const ok = solve([1, Infinity, Infinity, 2], 2, 2)();
  t.deepEqual(Array.from(ok.colIndices), [0, 1]);
});

test('argument errors name the argument', (t) => {
  const data = new Float64Array(6);
  const cases: Array<[() => unknown, new (...a: never[]) => Error, string | RegExp]> = [
    [() => ops.linearSumAssignment({ data, rows: 2, cols: 2 }), RangeError, 'cost: rows * cols (2 * 2 = 4) must equal data.length (6)'],
    [() => ops.linearSumAssignment({ data, rows: 2.5, cols: 2 }), RangeError, /^cost\.rows: expected an integer/],
    [() => ops.linearSumAssignment({ data, rows: -2, cols: -3 }), RangeError, /^cost\.rows: expected an integer/],
    [() => ops.linearSumAssignment({ data, rows: 2 } as never), TypeError, 'cost.cols: expected an integer'],
    [() => ops.linearSumAssignment({ data: new Int32Array(6), rows: 2, cols: 3 } as never), TypeError,
      'cost.data: expected a Float64Array or Float32Array'],
    [() => ops.linearSumAssignment({ data: [1, 2], rows: 1, cols: 2 } as never), TypeError,
      'cost.data: expected a Float64Array or Float32Array'],
    [() => ops.linearSumAssignment(null as never), TypeError, /^cost: expected a 2-D Tensor or/],
    [() => ops.linearSumAssignment([1, 2] as never), TypeError, /^cost: expected a 2-D Tensor or/],
    [() => ops.linearSumAssignment({ data, rows: 2, cols: 3 }, { maximize: 1 as never }), TypeError,
      'options.maximize: expected a boolean'],
    [() => ops.linearSumAssignment({ data, rows: 2, cols: 3 }, 'max' as never), TypeError, 'options: expected an options object'],
    [() => ops.linearSumAssignmentBatch({} as never), TypeError, 'costs: expected an array of cost matrices'],
    [() => ops.linearSumAssignmentBatch([{ data, rows: 2, cols: 3 }, { data, rows: 3, cols: 3 }]), RangeError,
      'costs[1]: rows * cols (3 * 3 = 9) must equal data.length (6)'],
  ];
  for (const [fn, type, message] of cases) {
    const err = t.throws(fn, { instanceOf: type });
    if (typeof message === 'string') t.is(err!.message, message);
    else t.regex(err!.message, message);
  }
  const t1 = Tensor.from(new Float64Array(8), [2, 2, 2]);
  t.throws(() => ops.linearSumAssignment(t1), { instanceOf: TypeError, message: 'cost: expected a 2-D tensor, got 3-D' });
  const t2 = Tensor.from(new Int32Array(4), [2, 2]);
  t.throws(() => ops.linearSumAssignment(t2), { instanceOf: TypeError, message: /^cost: expected a float32 or float64 tensor/ });
  const t3 = Tensor.from(new Float64Array(4), [2, 2]);
  t3.dispose();
  t.throws(() => ops.linearSumAssignment(t3), { instanceOf: TypeError, message: 'cost: Tensor has been disposed' });
  t.throws(() => ops.linearSumAssignmentBatch([t3]), { instanceOf: TypeError, message: 'costs[0]: Tensor has been disposed' });
  t1.dispose();
  t2.dispose();
});

// ---- batched entry points ---------------------------------------------------------------------

function batchInputs(seed: number): { inputs: CostInput[]; tensors: Tensor[] } {
  const rand = rng(seed);
  const shapes: [number, number][] = [[900, 7], [900, 0], [30, 120], [120, 30], [1, 1], [50, 50], [900, 20], [3, 8], [300, 40]];
  const inputs: CostInput[] = [];
  const tensors: Tensor[] = [];
  shapes.forEach(([rows, cols], k) => {
    const data = Float64Array.from({ length: rows * cols }, () => Math.floor(rand() * 4));
    if (k % 3 === 0 && rows * cols > 0) {
      const tensor = Tensor.from(data, [rows, cols]);
      tensors.push(tensor);
      inputs.push(tensor);
    } else {
      inputs.push(k % 3 === 1 ? { data, rows, cols } : { data: Float32Array.from(data), rows, cols });
    }
  });
  return { inputs, tensors };
}

test('batch equals single solves (sync and async)', async (t) => {
  const { inputs, tensors } = batchInputs(77);
  for (const maximize of [false, true]) {
    const single = inputs.map((c) => ops.linearSumAssignment(c, { maximize }));
    t.deepEqual(ops.linearSumAssignmentBatch(inputs, { maximize }), single);
    t.deepEqual(await ops.linearSumAssignmentBatchAsync(inputs, { maximize }), single);
  }
  t.deepEqual(ops.linearSumAssignmentBatch([]), []);
  t.deepEqual(await ops.linearSumAssignmentBatchAsync([]), []);
  for (const x of tensors) x.dispose();
});

test('batch errors name the first failing problem; async rejects', async (t) => {
  const good = { data: new Float64Array([1, 2, 3, 4]), rows: 2, cols: 2 };
  const infeasible = { data: new Float64Array([Infinity, Infinity, 1, 2]), rows: 2, cols: 2 };
  const invalid = { data: new Float64Array([NaN, 1, 2, 3]), rows: 2, cols: 2 };
  const list = [good, good, infeasible, good, invalid, infeasible];
  t.throws(() => ops.linearSumAssignmentBatch(list), { instanceOf: RangeError, message: 'costs[2]: matrix is infeasible' });
  await t.throwsAsync(ops.linearSumAssignmentBatchAsync(list), {
    instanceOf: RangeError,
    message: 'costs[2]: matrix is infeasible',
  });
  await t.throwsAsync(ops.linearSumAssignmentBatchAsync([good, invalid]), {
    instanceOf: RangeError,
    message: 'costs[1]: matrix contains invalid numeric entries (NaN or -inf)',
  });
});

test('async batch copies its inputs before returning', async (t) => {
  const data = new Float64Array([1, 2, 2, 1]);
  const pending = ops.linearSumAssignmentBatchAsync([{ data, rows: 2, cols: 2 }]);
  data.set([2, 1, 1, 2]);
  const [a] = await pending;
  t.deepEqual(Array.from(a!.colIndices), [0, 1]);
  t.is(a!.totalCost, 2);
});
