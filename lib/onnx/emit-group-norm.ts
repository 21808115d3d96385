// GroupNorm in the graph, plain or restricted to a valid mask (native/model/masked_norm.*: the
// statistics over the valid positions only, the padding zeroed after the affine).
import type { EmitContext } from './emit-layers';
import type { Value } from './graph';

/**
 * GroupNorm of y [B, C, H, W] with `groups` groups and weights `prefix`.{weight,bias} (eps
 * 1e-5). With `mask` (float [B, 1, H, W]) the statistics cover the valid positions only.
 */
export function groupNorm(ctx: EmitContext, y: Value, prefix: string, groups: number, mask?: Value): Value {
  const { g } = ctx;
  const gamma = ctx.w(`${prefix}.weight`);
  const beta = ctx.w(`${prefix}.bias`);
  const c = gamma.data.length;
  const scale = g.weight(`${prefix}.weight_c11`, gamma.data, [1, c, 1, 1]);
  const shift = g.weight(`${prefix}.bias_c11`, beta.data, [1, c, 1, 1]);
  const eps = 1e-5;
  // [B, G, C/G, H, W]: the statistics are summed one axis at a time (W, then H, then the
  // group's channels), so no float32 sum runs over more than one row or column. A single
  // reduction over C/G·H·W values (600 000 on the tiny stem at 480×640) is summed naively by
  // onnxruntime-web's kernels and drifts by ~1e-3.
  const grouped = g.reshape(y, g.concat([g.dim(y, 0), g.ints([groups, c / groups]), g.op1('Shape', [y], { start: 2, end: 4 })], 0));
  const sumAll = (v: Value) => g.reduceSum(g.reduceSum(g.reduceSum(v, [4]), [3]), [2]); // [B, G, 1, 1, 1]
  let centred: Value;
  let count: Value;
  const m = mask === undefined ? undefined : g.unsqueeze(mask, [1]); // [B, 1, 1, H, W]
  if (m === undefined) {
    const pixels = g.op1('ReduceProd', [g.cast(g.op1('Shape', [y], { start: 2, end: 4 }), 'float32')], { keepdims: 0 }); // H·W
    count = g.mul(pixels, g.scalar(c / groups));
    centred = g.sub(grouped, g.div(sumAll(grouped), count));
  } else {
    count = g.mul(sumAll(m), g.scalar(c / groups));
    centred = g.mul(g.sub(grouped, g.div(sumAll(g.mul(grouped, m)), count)), m);
  }
  const variance = g.div(sumAll(g.mul(centred, centred)), count);
  const inv = g.op1('Reciprocal', [g.op1('Sqrt', [g.add(variance, g.scalar(eps))])]);
  const normed = g.reshape(g.mul(centred, inv), g.op1('Shape', [y]));
  const out = g.add(g.mul(normed, scale), shift);
  return mask === undefined ? out : g.mul(out, mask);
}
