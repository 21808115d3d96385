// Linear sum assignment (Hungarian matching), exact and scipy-compatible
// (native/ops/lsa, binding in native/binding/lsa_binding.cc).
import { binding } from '../binding';
import { Tensor, handleOf } from '../tensor';

/** A row-major cost matrix held in a plain typed array. */
export interface CostMatrix {
  /** rows * cols values, row-major; a Float32Array is widened to float64 before solving. */
  data: Float64Array | Float32Array;
  rows: number;
  cols: number;
}

/** A cost matrix: a 2-D float32/float64 Tensor, or a typed array with its dims. */
export type CostInput = Tensor | CostMatrix;

export interface LinearSumAssignmentOptions {
  /** Maximize the total instead of minimizing it (scipy's `maximize`). Default false. */
  maximize?: boolean;
}

/** The optimal assignment, in the form scipy.optimize.linear_sum_assignment returns it. */
export interface Assignment {
  /** Assigned rows, ascending; min(rows, cols) of them. */
  rowIndices: Int32Array;
  /** colIndices[k] is the column assigned to rowIndices[k]. */
  colIndices: Int32Array;
  /** Σ cost[rowIndices[k], colIndices[k]] of the input values (float64; 0 for an empty matrix). */
  totalCost: number;
}

// A Tensor becomes its native handle; anything else goes to the native side, which validates it.
function nativeCost(cost: unknown, argName: string): unknown {
  return cost instanceof Tensor ? handleOf(cost, argName) : cost;
}

function readMaximize(options: LinearSumAssignmentOptions | undefined): boolean {
  if (options === undefined || options === null) return false;
  if (typeof options !== 'object') throw new TypeError('options: expected an options object');
  const { maximize } = options;
  if (maximize === undefined) return false;
  if (typeof maximize !== 'boolean') throw new TypeError('options.maximize: expected a boolean');
  return maximize;
}

/** The most cost matrices one batch call takes. */
const MAX_BATCH_MATRICES = 1 << 20;

function nativeList(costs: readonly CostInput[]): unknown[] {
  if (!Array.isArray(costs)) throw new TypeError('costs: expected an array of cost matrices');
  // Before the list is walked: a sparse array's length alone can be 2^32 − 1.
  if (costs.length > MAX_BATCH_MATRICES) throw new RangeError(`costs: at most ${MAX_BATCH_MATRICES} matrices per batch, got ${costs.length}`);
  return costs.map((c, k) => nativeCost(c, `costs[${k}]`));
}

/**
 * Solves the linear sum assignment problem exactly, like scipy.optimize.linear_sum_assignment:
 * picks min(rows, cols) (row, column) pairs, each row and column at most once, minimizing (or
 * maximizing) the summed cost. Uses scipy's shortest-augmenting-path algorithm in float64 with
 * its loop order and tie rules, so ties resolve to the same indices scipy returns.
 *
 * +Infinity marks a forbidden pair (-Infinity with `maximize`); an assignment avoiding them is
 * returned when one exists. An empty matrix gives empty results.
 *
 * @throws RangeError "cost: matrix contains invalid numeric entries (NaN or -inf)" (NaN or +inf
 *         with `maximize`), "cost: matrix is infeasible" when every complete assignment uses a
 *         forbidden pair, or when rows * cols differs from data.length;
 *         TypeError for a cost that is not a 2-D float32/float64 Tensor or { data, rows, cols }.
 */
export function linearSumAssignment(cost: CostInput, options?: LinearSumAssignmentOptions): Assignment {
  const maximize = readMaximize(options);
  return binding().lsaSolve(nativeCost(cost, 'cost'), maximize);
}

/**
 * Solves many independent problems in parallel on libtorch's intra-op threads (e.g. one per
 * image and decoder layer). Result k equals linearSumAssignment(costs[k], options).
 * @throws as linearSumAssignment, naming the first failing problem ("costs[3]: matrix is infeasible").
 */
export function linearSumAssignmentBatch(
  costs: readonly CostInput[],
  options?: LinearSumAssignmentOptions,
): Assignment[] {
  const maximize = readMaximize(options);
  return binding().lsaSolveBatch(nativeList(costs), maximize);
}

/**
 * linearSumAssignmentBatch off the JS thread. The inputs are read (typed arrays copied) before
 * it returns, so they may be changed or disposed meanwhile. Argument errors throw synchronously;
 * solver errors (invalid entries, infeasible) reject the promise.
 */
export function linearSumAssignmentBatchAsync(
  costs: readonly CostInput[],
  options?: LinearSumAssignmentOptions,
): Promise<Assignment[]> {
  const maximize = readMaximize(options);
  return binding().lsaSolveBatchAsync(nativeList(costs), maximize);
}

/** @internal The SIMD row-scan kernel the solver uses on this CPU ("avx512", "avx2", "portable"). */
export function lsaKernelName(): string {
  return binding().lsaKernel();
}
