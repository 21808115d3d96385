// The model's weights as the exporter reads them: float32 arrays by state-dict name, and the
// rewrites that fold inference-time constants into them (frozen BatchNorm into the preceding
// convolution, Linear weights transposed for MatMul).
import type { Tensor } from '../tensor';

/** One weight: row-major float32 values and their shape. */
export interface WeightArray {
  data: Float32Array;
  shape: number[];
}

/** Reads a parameter or buffer by state-dict name (a copy). */
export type WeightSource = (name: string) => WeightArray;

/** A WeightSource over a model's `parameter(name)` (which also returns buffers). */
export function modelWeights(parameter: (name: string) => Tensor): WeightSource {
  return (name) => {
    const t = parameter(name);
    try {
      if (t.dtype !== 'float32') throw new TypeError(`onnx export: ${name} is ${t.dtype}, expected float32`);
      return { data: t.toTypedArray() as Float32Array, shape: t.shape };
    } finally {
      t.dispose();
    }
  };
}

/** [rows, cols] of a weight viewed as a matrix (the first dimension by the rest). */
function matrix(w: WeightArray): [number, number] {
  const rows = w.shape[0] ?? 1;
  return [rows, w.data.length / rows];
}

/**
 * FrozenBatchNorm after a bias-free convolution, folded into it: the norm computes
 * y·s + (b − μ·s) with s = γ / √(σ² + eps), so the convolution's weight is scaled by s per output
 * channel and gains the bias b − μ·s.
 */
export function foldFrozenBatchNorm(
  conv: WeightArray,
  norm: { weight: WeightArray; bias: WeightArray; mean: WeightArray; variance: WeightArray },
  eps = 1e-5,
): { weight: WeightArray; bias: WeightArray } {
  const [out, per] = matrix(conv);
  const weight = new Float32Array(conv.data.length);
  const bias = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    // The native norm computes the scale in float32 (rsqrt of a float sum): the same here.
    const scale = Math.fround(norm.weight.data[o]! * Math.fround(1 / Math.sqrt(Math.fround(norm.variance.data[o]! + eps))));
    bias[o] = norm.bias.data[o]! - norm.mean.data[o]! * scale;
    for (let k = 0; k < per; k++) weight[o * per + k] = conv.data[o * per + k]! * scale;
  }
  return { weight: { data: weight, shape: conv.shape }, bias: { data: bias, shape: [out] } };
}

/** A [rows, cols] matrix transposed to [cols, rows]. */
export function transposed(w: WeightArray): WeightArray {
  const [rows, cols] = matrix(w);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = w.data[r * cols + c]!;
  return { data, shape: [cols, rows] };
}

/** Columns [start, start + count) of a [rows, cols] matrix. */
export function columns(w: WeightArray, start: number, count: number): WeightArray {
  const [r, c] = matrix(w);
  const data = new Float32Array(r * count);
  for (let i = 0; i < r; i++) data.set(w.data.subarray(i * c + start, i * c + start + count), i * count);
  return { data, shape: [r, count] };
}
