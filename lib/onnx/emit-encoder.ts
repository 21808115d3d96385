// The levels flattened into tokens and the deformable encoder (native/model/dino.cpp flattening,
// docs/numerical-contract.md §A.5-6; native/model/transformer_layers.*; memory_fusion.* for dense fusion): per level
// the tokens, padding mask, sine position + level embedding, valid ratios and geometry; the
// encoder's reference points; the encoder layers; optionally Stable-DINO's dense fusion.
import type { DeformableOptions, MultiScaleMemory } from './emit-deformable';
import { deformableAttention } from './emit-deformable';
import { ffn, layerNorm, linearFrom, type EmitContext } from './emit-layers';
import type { MaskSource } from './emit-masks';
import type { LevelGeometry } from './emit-msda';
import { sineMapEncoding } from './emit-position';
import type { Value } from './graph';
import { columns } from './weights';

export interface FlatLevels {
  src: Value; // [B, S, d]
  pos: Value; // [B, S, d]
  masks: Value[]; // per level [B, H_l, W_l] bool
  maskFlat: Value; // [B, S] bool
  validRatios: Value; // [B, L, 2] (w, h)
  memory: Omit<MultiScaleMemory, 'value'>;
}

/** Flattens the neck's levels. `padded`: the batch may hold padding (masks are applied). */
export function flattenLevels(ctx: EmitContext, opts: DeformableOptions, feats: Value[], masks: MaskSource, padded: boolean): FlatLevels {
  const { g } = ctx;
  const d = opts.cfg.hiddenDim;
  return g.scoped('flatten', () => {
    const levelEmbeds = ctx.w('transformer.level_embeds');
    const srcs: Value[] = [];
    const poses: Value[] = [];
    const flatMasks: Value[] = [];
    const ratios: Value[] = [];
    const levels: LevelGeometry[] = [];
    const levelMasks: Value[] = [];
    const normalizers: Value[] = [];
    let start: Value = g.ints([0]);
    feats.forEach((f, l) => {
      const mask = masks.padding(3 + l); // [B, H, W]
      levelMasks.push(mask);
      srcs.push(g.transpose(g.reshape(f, [0, 0, -1]), [0, 2, 1]));
      const embed = g.weight(`transformer.level_embeds.${l}`, levelEmbeds.data.slice(l * d, (l + 1) * d), [1, 1, d]);
      poses.push(g.add(sineMapEncoding(g, mask, d / 2), embed));
      flatMasks.push(g.reshape(mask, [0, -1]));
      const h = g.dim(f, 2);
      const w = g.dim(f, 3);
      const hf = g.cast(h, 'float32');
      const wf = g.cast(w, 'float32');
      const notMask = g.cast(g.op1('Not', [mask]), 'float32');
      const validH = g.reduceSum(g.select(notMask, 2, 0), [1], false); // [B]
      const validW = g.reduceSum(g.select(notMask, 1, 0), [1], false);
      ratios.push(g.op1('Concat', [g.unsqueeze(g.div(validW, wf), [1]), g.unsqueeze(g.div(validH, hf), [1])], { axis: 1 }));
      const end = g.add(start, g.mul(h, w));
      levels.push({ h, w, hf, wf, start, end });
      normalizers.push(g.concat([wf, hf], 0));
      start = end;
    });
    const validRatios = g.reshape(g.concat(ratios, 1), [0, feats.length, 2]);
    const maskFlat = g.concat(flatMasks, 1);
    return {
      src: g.concat(srcs, 1),
      pos: g.concat(poses, 1),
      masks: levelMasks,
      maskFlat,
      validRatios,
      memory: {
        paddingMask: padded ? maskFlat : undefined,
        levels,
        normalizer: g.reshape(g.concat(normalizers, 0), [feats.length, 2]),
      },
    };
  });
}

/** Encoder reference points [B, S, L, 2]: token centres relative to the valid area, per level. */
function encoderReferencePoints(ctx: EmitContext, flat: FlatLevels): Value {
  const { g } = ctx;
  const refs = flat.memory.levels.map((lv, l) => {
    const centres = (n: Value) => g.add(g.cast(g.op1('Range', [g.ints([0], []), g.squeeze(n, [0]), g.ints([1], [])]), 'float32'), g.scalar(0.5));
    const ratio = g.select(flat.validRatios, 1, l); // [B, 2]
    const ys = g.reshape(g.op1('Expand', [g.unsqueeze(centres(lv.h), [1]), g.concat([lv.h, lv.w], 0)]), [1, -1]); // [1, H·W]
    const xs = g.reshape(g.op1('Expand', [g.unsqueeze(centres(lv.w), [0]), g.concat([lv.h, lv.w], 0)]), [1, -1]);
    const refY = g.div(ys, g.mul(g.slice(ratio, [1], [2], [1]), lv.hf)); // [B, H·W]
    const refX = g.div(xs, g.mul(g.slice(ratio, [0], [1], [1]), lv.wf));
    return g.concat([g.unsqueeze(refX, [2]), g.unsqueeze(refY, [2])], 2); // [B, H·W, 2]
  });
  return g.mul(g.unsqueeze(g.concat(refs, 1), [2]), g.unsqueeze(flat.validRatios, [1]));
}

/** The encoder's output memory [B, S, d] (the fused memory with dense fusion). */
export function emitEncoder(ctx: EmitContext, opts: DeformableOptions, flat: FlatLevels): Value {
  const { g } = ctx;
  const cfg = opts.cfg;
  return g.scoped('encoder', () => {
    const reference = encoderReferencePoints(ctx, flat);
    const outputs: Value[] = [flat.src];
    let x = flat.src;
    for (let i = 0; i < cfg.encoderLayers; i++) {
      const p = `transformer.encoder.layers.${i}`;
      // Self-attention over the memory: the value is the layer input, without pos.
      const y = layerNorm(ctx, deformableAttention(ctx, opts, `${p}.attentions.0`, x, flat.pos, reference, 2, { ...flat.memory, value: x }), `${p}.norms.0`);
      x = layerNorm(ctx, ffn(ctx, y, `${p}.ffns.0`), `${p}.norms.1`);
      outputs.push(x);
    }
    if (cfg.memoryFusion !== 'dense') return x;
    // Stable-DINO: LayerNorm(Linear(concat[x_0..x_L])) as a sum of per-input products.
    const prefix = 'transformer.encoder.fusion_layer';
    const w = ctx.w(`${prefix}.0.weight`);
    const bias = ctx.w(`${prefix}.0.bias`);
    const d = cfg.hiddenDim;
    let sum = linearFrom(ctx, flat.src, columns(w, 0, d), bias, `${prefix}.0.part0`);
    outputs.forEach((o, k) => {
      if (k > 0) sum = g.add(sum, linearFrom(ctx, o, columns(w, k * d, d), undefined, `${prefix}.0.part${k}`));
    });
    return layerNorm(ctx, sum, `${prefix}.1`);
  });
}
