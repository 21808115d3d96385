// The deformable decoder with look-forward-twice refinement and the final heads (docs/numerical-contract.md §A.8,
// §A.10; native/model/transformer_layers.* and dino.cpp). Only the last layer's predictions are
// emitted (inference reads no other).
import type { DeformableOptions, MultiScaleMemory } from './emit-deformable';
import { deformableAttention } from './emit-deformable';
import { ffn, layerNorm, linear, mlp, multiheadAttention, type EmitContext } from './emit-layers';
import { sineBoxEncoding } from './emit-position';
import type { GraphBuilder, Value } from './graph';

/** log(x / (1 − x)) with x clamped to [0, 1] and both terms to at least 1e-3 (ops/box inverseSigmoid). */
function inverseSigmoid(g: GraphBuilder, x: Value): Value {
  const eps = g.scalar(1e-3);
  const y = g.op1('Clip', [x, g.scalar(0), g.scalar(1)]);
  return g.op1('Log', [g.div(g.op1('Max', [y, eps]), g.op1('Max', [g.sub(g.scalar(1), y), eps]))]);
}

export interface DecoderInputs {
  target: Value; // [B, Q, d]
  targetLoc?: Value; // [B, Q, d] the decoupled decoder's initial localisation contents
  reference: Value; // [B, Q, 4]
  validRatios: Value; // [B, L, 2]
  memory: MultiScaleMemory;
}

/** Final-layer predictions: logits [B, Q, C] and boxes [B, Q, 4] (cx, cy, w, h) in [0, 1]. */
export function emitDecoder(ctx: EmitContext, opts: DeformableOptions, input: DecoderInputs): { logits: Value; boxes: Value } {
  const { g } = ctx;
  const cfg = opts.cfg;
  const d = cfg.hiddenDim;
  return g.scoped('decoder', () => {
    const ratios4 = g.unsqueeze(g.concat([input.validRatios, input.validRatios], 2), [1]); // [B, 1, L, 4]
    const decoupled = cfg.decoder === 'decoupled';
    let x = input.target;
    let xLoc = input.targetLoc; // decoupled: the localisation stream
    let ref = input.reference;
    for (let i = 0; i < cfg.decoderLayers; i++) {
      const p = `transformer.decoder.layers.${i}`;
      const refInput = g.mul(g.unsqueeze(ref, [2]), ratios4); // [B, Q, L, 4]
      const sine = sineBoxEncoding(g, cfg.padInvariant ? ref : g.select(refInput, 2, 0), d / 2);
      const queryPos = mlp(ctx, sine, 'transformer.decoder.ref_point_head', 2);
      const crossAndFfn = (y: Value, attn: string, norm1: string, ffnPrefix: string, norm2: string) =>
        layerNorm(ctx, ffn(ctx, layerNorm(ctx, deformableAttention(ctx, opts, attn, y, queryPos, refInput, 4, input.memory), norm1), ffnPrefix), norm2);
      if (decoupled && xLoc !== undefined) {
        // One self-attention over [cls; loc] (both halves carry the query's position), then each
        // stream its own cross-attention and FFN (native DecoupledDecoderLayer).
        const both = g.concat([x, xLoc], 1);
        const pos2 = g.concat([queryPos, queryPos], 1);
        const qk = g.add(both, pos2);
        const y = layerNorm(ctx, g.add(both, multiheadAttention(ctx, qk, qk, both, `${p}.attentions.0.attn`, d, cfg.numHeads)), `${p}.norms.0`);
        const q = g.dim(x, 1);
        const twoQ = g.mul(q, g.ints([2]));
        x = crossAndFfn(g.slice(y, g.ints([0]), q, [1]), `${p}.attentions.1`, `${p}.norms.1`, `${p}.ffns.0`, `${p}.norms.2`);
        xLoc = crossAndFfn(g.slice(y, q, twoQ, [1]), `${p}.loc_cross_attn`, `${p}.loc_norms.0`, `${p}.loc_ffn`, `${p}.loc_norms.1`);
      } else {
        const qk = g.add(x, queryPos);
        x = layerNorm(ctx, g.add(x, multiheadAttention(ctx, qk, qk, x, `${p}.attentions.0.attn`, d, cfg.numHeads)), `${p}.norms.0`);
        x = crossAndFfn(x, `${p}.attentions.1`, `${p}.norms.1`, `${p}.ffns.0`, `${p}.norms.2`);
      }
      if (i + 1 < cfg.decoderLayers) {
        // Refinement reads the un-normed box stream; the heads read the normed one.
        ref = g.sigmoid(g.add(mlp(ctx, xLoc ?? x, `bbox_embed.${i}`, 3), inverseSigmoid(g, ref)));
      }
    }
    const last = cfg.decoderLayers - 1;
    const state = layerNorm(ctx, x, 'transformer.decoder.norm');
    const boxState = xLoc !== undefined ? layerNorm(ctx, xLoc, 'transformer.decoder.norm_loc') : state;
    const logits = linear(ctx, state, `class_embed.${last}`);
    const boxes = g.sigmoid(g.add(mlp(ctx, boxState, `bbox_embed.${last}`, 3), inverseSigmoid(g, ref)));
    return { logits, boxes };
  });
}
