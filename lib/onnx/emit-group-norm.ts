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
  if (mask === undefined) {
    // InstanceNormalization over [B, G, C/G·H·W] is exactly the group statistics.
    const grouped = g.reshape(y, [0, groups, -1]);
    const normed = g.op1('InstanceNormalization', [grouped, g.floats(new Array(groups).fill(1)), g.floats(new Array(groups).fill(0))], {
      epsilon: { float: eps },
    });
    return g.add(g.mul(g.reshape(normed, g.op1('Shape', [y])), scale), shift);
  }
  const yg = g.reshape(y, [0, groups, c / groups, -1]); // [B, G, C/G, HW]
  const m = g.reshape(mask, [0, 1, 1, -1]); // [B, 1, 1, HW]
  const count = g.mul(g.reduceSum(m, [2, 3]), g.scalar(c / groups));
  const mean = g.div(g.reduceSum(g.mul(yg, m), [2, 3]), count);
  const centred = g.mul(g.sub(yg, mean), m);
  const variance = g.div(g.reduceSum(g.mul(centred, centred), [2, 3]), count);
  const inv = g.op1('Reciprocal', [g.op1('Sqrt', [g.add(variance, g.scalar(eps))])]);
  const normed = g.reshape(g.mul(centred, inv), g.op1('Shape', [y]));
  return g.mul(g.add(g.mul(normed, scale), shift), mask);
}
