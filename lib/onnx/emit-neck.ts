// The channel-mapper neck (native/model/neck.*): a 1×1 conv + GroupNorm per backbone level and
// a strided 3×3 conv + GroupNorm on res5 for the fourth level; GroupNorm over the valid
// positions when masks are given.
import type { ExportConfig } from './config';
import { groupNorm } from './emit-group-norm';
import type { EmitContext } from './emit-layers';
import type { MaskSource } from './emit-masks';
import type { Value } from './graph';

function convGroupNorm(ctx: EmitContext, cfg: ExportConfig, x: Value, prefix: string, kernel: number, stride: number, mask?: Value): Value {
  const { g } = ctx;
  const w = ctx.w(`${prefix}.conv.weight`);
  const b = ctx.w(`${prefix}.conv.bias`);
  const pad = Math.floor(kernel / 2);
  const y = g.op1('Conv', [x, g.weight(`${prefix}.conv.weight`, w.data, w.shape), g.weight(`${prefix}.conv.bias`, b.data, b.shape)], {
    kernel_shape: { ints: [kernel, kernel] },
    strides: { ints: [stride, stride] },
    pads: { ints: [pad, pad, pad, pad] },
  });
  return groupNorm(ctx, y, `${prefix}.norm`, cfg.neckGroups, mask);
}

/** The four level maps [B, d, H_l, W_l] from res3..res5. */
export function emitNeck(ctx: EmitContext, cfg: ExportConfig, feats: Value[], masks?: MaskSource): Value[] {
  return ctx.g.scoped('neck', () => {
    const outs = feats.map((f, i) => convGroupNorm(ctx, cfg, f, `neck.convs.${i}`, 1, 1, masks?.valid(3 + i)));
    outs.push(convGroupNorm(ctx, cfg, feats[feats.length - 1]!, 'neck.extra_convs.0', 3, 2, masks?.valid(3 + feats.length)));
    return outs;
  });
}
