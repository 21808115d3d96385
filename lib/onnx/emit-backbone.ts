// The ResNet backbone (native/model/backbone.*) in the graph: detectron2 layout, FrozenBatchNorm
// folded into each convolution, or (backboneGroupNorm) GroupNorm. With masks, every convolution
// reads zeros in the padding and the GroupNorm statistics cover the image only, as in the native
// padding-invariant mode; without, the batch is taken as unpadded.
import type { ExportConfig } from './config';
import { groupNorm } from './emit-group-norm';
import type { EmitContext } from './emit-layers';
import type { MaskSource } from './emit-masks';
import type { Value } from './graph';
import { foldFrozenBatchNorm } from './weights';

interface ConvSpec {
  kernel: number;
  stride: number;
  padding: number;
}

/** A bias-free convolution and its norm (`prefix`.weight, `prefix`.norm.*). */
function convNorm(ctx: EmitContext, cfg: ExportConfig, x: Value, prefix: string, spec: ConvSpec, mask?: Value): Value {
  const { g } = ctx;
  const attrs = {
    kernel_shape: { ints: [spec.kernel, spec.kernel] },
    strides: { ints: [spec.stride, spec.stride] },
    pads: { ints: [spec.padding, spec.padding, spec.padding, spec.padding] },
  };
  const conv = ctx.w(`${prefix}.weight`);
  if (cfg.backboneGroupNorm) {
    const y = g.op1('Conv', [x, g.weight(`${prefix}.weight`, conv.data, conv.shape)], attrs);
    const groups = Math.min(32, Math.max(1, Math.floor(conv.shape[0]! / 8)));
    return groupNorm(ctx, y, `${prefix}.norm`, groups, mask);
  }
  const folded = foldFrozenBatchNorm(conv, {
    weight: ctx.w(`${prefix}.norm.weight`),
    bias: ctx.w(`${prefix}.norm.bias`),
    mean: ctx.w(`${prefix}.norm.running_mean`),
    variance: ctx.w(`${prefix}.norm.running_var`),
  });
  const w = g.weight(`${prefix}.weight_folded`, folded.weight.data, folded.weight.shape);
  const b = g.weight(`${prefix}.bias_folded`, folded.bias.data, folded.bias.shape);
  return g.op1('Conv', [x, w, b], attrs);
}

const BLOCKS: Record<number, number[]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3] };

/** Returns res3, res4, res5 (strides 8, 16, 32). `masks`: the padding masks, or none (unpadded batch). */
export function emitBackbone(ctx: EmitContext, cfg: ExportConfig, images: Value, masks?: MaskSource): Value[] {
  const { g } = ctx;
  const maskAt = (halvings: number) => masks?.valid(halvings);
  const masked = (x: Value, m?: Value) => (m === undefined ? x : g.mul(x, m));
  const bottleneck = cfg.backboneDepth >= 50;
  const width = cfg.backboneWidth;
  const blocks = BLOCKS[cfg.backboneDepth];
  if (blocks === undefined) throw new RangeError(`backboneDepth: expected 18, 34, 50 or 101, got ${cfg.backboneDepth}`);
  const k1 = { kernel: 1, stride: 1, padding: 0 };

  return g.scoped('backbone', () => {
    const stemMask = maskAt(1);
    let x = convNorm(ctx, cfg, images, 'backbone.stem.conv1', { kernel: 7, stride: 2, padding: 3 }, stemMask);
    x = masked(g.relu(x), stemMask); // the max-pool must see zeros (≤ any ReLU output) in the padding
    x = g.op1('MaxPool', [x], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } });
    let halvings = 2;
    x = masked(x, maskAt(halvings));
    const outs: Value[] = [];
    let inChannels = width;
    for (let s = 0; s < 4; s++) {
      const mid = width << s;
      const outChannels = bottleneck ? mid * 4 : mid;
      for (let b = 0; b < blocks[s]!; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        const p = `backbone.res${s + 2}.${b}`;
        const inMask = maskAt(halvings);
        if (stride === 2) halvings++;
        const outMask = maskAt(halvings);
        let y: Value;
        if (bottleneck) {
          y = masked(g.relu(convNorm(ctx, cfg, x, `${p}.conv1`, k1, inMask)), inMask);
          y = masked(g.relu(convNorm(ctx, cfg, y, `${p}.conv2`, { kernel: 3, stride, padding: 1 }, outMask)), outMask);
          y = convNorm(ctx, cfg, y, `${p}.conv3`, k1, outMask);
        } else {
          y = masked(g.relu(convNorm(ctx, cfg, x, `${p}.conv1`, { kernel: 3, stride, padding: 1 }, outMask)), outMask);
          y = convNorm(ctx, cfg, y, `${p}.conv2`, { kernel: 3, stride: 1, padding: 1 }, outMask);
        }
        const identity =
          inChannels !== outChannels || stride !== 1
            ? convNorm(ctx, cfg, x, `${p}.shortcut`, { kernel: 1, stride, padding: 0 }, outMask)
            : x;
        x = masked(g.relu(g.add(y, identity)), outMask);
        inChannels = outChannels;
      }
      if (s >= 1) outs.push(x);
    }
    return outs;
  });
}
