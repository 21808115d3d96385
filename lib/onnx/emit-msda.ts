// Multi-scale deformable attention sampling (native/ops/msda, docs/numerical-contract.md §B) with standard ONNX ops.
// Bilinear sampling follows grid_sample with align_corners = false and zero padding: location
// (x, y) ∈ [0, 1]² on an H×W map is pixel (x·W − 0.5, y·H − 0.5); each of the four corners
// contributes its bilinear weight when it lies on the map.
//
// 'gather' (default): per level and corner, the corner's flat index into the level's value rows
// and a Gather, then the attention-and-bilinear-weighted sum over points as a MatMul. Any
// runtime runs it (TensorRT 10 miscompiles GridSample-based MSDA), and one level × corner at a
// time keeps the gathered tensor at [B, M, Q, P, D].
// 'grid-sample': one GridSample per level (opset 16+), weighted and summed over points.
import type { GraphBuilder, Value } from './graph';

export type MsdaMode = 'gather' | 'grid-sample';

/** The size and offset of one level in the flattened value, as graph values. */
export interface LevelGeometry {
  h: Value; // int64 [1]
  w: Value; // int64 [1]
  hf: Value; // float32 [1]
  wf: Value; // float32 [1]
  start: Value; // int64 [1]: first token of the level
  end: Value; // int64 [1]: one past its last token
}

export interface MsdaInputs {
  value: Value; // [B, S, M, D]
  locations: Value; // [B, Q, M, L, P, 2] normalised (x, y)
  weights: Value; // [B, Q, M, L, P]
  levels: LevelGeometry[];
  heads: number;
  headDim: number;
}

/** Returns [B, Q, M·D] (channel m·D + d). */
export function emitMsda(g: GraphBuilder, input: MsdaInputs, mode: MsdaMode): Value {
  return g.scoped('msda', () => (mode === 'gather' ? gatherMsda(g, input) : gridSampleMsda(g, input)));
}

function gatherMsda(g: GraphBuilder, { value, locations, weights, levels, heads, headDim }: MsdaInputs): Value {
  const valueBms = g.transpose(value, [0, 2, 1, 3]); // [B, M, S, D]
  const locsByLevel = g.transpose(locations, [3, 0, 2, 1, 4, 5]); // [L, B, M, Q, P, 2]
  const weightsByLevel = g.transpose(weights, [3, 0, 2, 1, 4]); // [L, B, M, Q, P]
  // Row offset of each (batch, head) block: (b·M + m)·H_l·W_l, as [B, M, 1, 1].
  const batchHeads = g.mul(g.dim(value, 0), g.ints([heads]));
  const blockIndex = g.reshape(g.op1('Range', [g.ints([0], []), g.squeeze(batchHeads, [0]), g.ints([1], [])]), [-1, heads, 1, 1]);
  const half = g.scalar(0.5);
  const one = g.scalar(1);
  const zero = g.scalar(0);
  let out: Value | undefined;
  levels.forEach((lv, l) => {
    const rows = g.reshape(g.slice(valueBms, lv.start, lv.end, [2]), [-1, headDim]); // [B·M·H·W, D]
    const hw = g.mul(lv.h, lv.w);
    const base = g.mul(blockIndex, hw);
    const loc = g.select(locsByLevel, 0, l); // [B, M, Q, P, 2]
    const attn = g.select(weightsByLevel, 0, l); // [B, M, Q, P]
    const xIm = g.sub(g.mul(g.select(loc, 4, 0), lv.wf), half);
    const yIm = g.sub(g.mul(g.select(loc, 4, 1), lv.hf), half);
    const x0 = g.op1('Floor', [xIm]);
    const y0 = g.op1('Floor', [yIm]);
    const lx = g.sub(xIm, x0);
    const ly = g.sub(yIm, y0);
    const fx: [Value, Value] = [g.sub(one, lx), lx]; // weight of column x0, x0 + 1
    const fy: [Value, Value] = [g.sub(one, ly), ly];
    const wMax = g.sub(lv.wf, one);
    const hMax = g.sub(lv.hf, one);
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      const xi = dx === 0 ? x0 : g.add(x0, one);
      const yi = dy === 0 ? y0 : g.add(y0, one);
      const inside = g.op1('And', [
        g.op1('And', [g.op1('GreaterOrEqual', [xi, zero]), g.op1('LessOrEqual', [xi, wMax])]),
        g.op1('And', [g.op1('GreaterOrEqual', [yi, zero]), g.op1('LessOrEqual', [yi, hMax])]),
      ]);
      const weight = g.mul(g.mul(g.mul(fy[dy], fx[dx]), attn), g.cast(inside, 'float32')); // [B, M, Q, P]
      const xc = g.cast(g.op1('Max', [g.op1('Min', [xi, wMax]), zero]), 'int64');
      const yc = g.cast(g.op1('Max', [g.op1('Min', [yi, hMax]), zero]), 'int64');
      const index = g.add(g.add(g.mul(yc, lv.w), xc), base);
      const gathered = g.op1('Gather', [rows, index], { axis: 0 }); // [B, M, Q, P, D]
      const summed = g.op1('MatMul', [g.unsqueeze(weight, [3]), gathered]); // [B, M, Q, 1, D]
      out = out === undefined ? summed : g.add(out, summed);
    }
  });
  const merged = g.squeeze(out as Value, [3]); // [B, M, Q, D]
  return g.reshape(g.transpose(merged, [0, 2, 1, 3]), [0, 0, -1]);
}

function gridSampleMsda(g: GraphBuilder, { value, locations, weights, levels, heads, headDim }: MsdaInputs): Value {
  const locsByLevel = g.transpose(locations, [3, 0, 2, 1, 4, 5]); // [L, B, M, Q, P, 2]
  const weightsByLevel = g.transpose(weights, [3, 0, 2, 1, 4]); // [L, B, M, Q, P]
  const minusOne = g.ints([-1]);
  const qp = g.op1('Shape', [locations], { start: 1, end: 2 }); // [Q]
  const points = g.op1('Shape', [weights], { start: 4, end: 5 }); // [P]
  const gridShape = g.concat([minusOne, qp, points, g.ints([2])], 0);
  const weightShape = g.concat([minusOne, g.ints([1]), qp, points], 0);
  let out: Value | undefined;
  levels.forEach((lv, l) => {
    const v = g.transpose(g.slice(value, lv.start, lv.end, [1]), [0, 2, 3, 1]); // [B, M, D, H·W]
    const map = g.reshape(v, g.concat([minusOne, g.ints([headDim]), lv.h, lv.w], 0)); // [B·M, D, H, W]
    const loc = g.select(locsByLevel, 0, l); // [B, M, Q, P, 2]
    const grid = g.reshape(g.sub(g.mul(loc, g.scalar(2)), g.scalar(1)), gridShape); // [B·M, Q, P, 2]
    const sampled = g.op1('GridSample', [map, grid], {
      align_corners: 0,
      mode: g.opset >= 20 ? 'linear' : 'bilinear',
      padding_mode: 'zeros',
    }); // [B·M, D, Q, P]
    const attn = g.reshape(g.select(weightsByLevel, 0, l), weightShape); // [B·M, 1, Q, P]
    const summed = g.reduceSum(g.mul(sampled, attn), [3], false); // [B·M, D, Q]
    out = out === undefined ? summed : g.add(out, summed);
  });
  const split = g.reshape(out as Value, g.concat([g.dim(value, 0), g.ints([heads, headDim, -1])], 0)); // [B, M, D, Q]
  return g.reshape(g.transpose(split, [0, 3, 1, 2]), [0, 0, -1]);
}
