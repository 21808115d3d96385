// Two-stage query selection (docs/numerical-contract.md §A.7; native/model/dino.cpp): a proposal per token, the
// encoder heads on the masked, projected memory, ONNX TopK over the best class score, and the
// selected proposals' boxes as the decoder's initial references.
import type { ExportConfig } from './config';
import type { FlatLevels } from './emit-encoder';
import { layerNorm, linear, mlp, type EmitContext } from './emit-layers';
import type { Value } from './graph';

/** Unsigmoided proposals [B, S, 4] (+inf where padded or invalid) and their validity [B, S, 1]. */
function encoderProposals(ctx: EmitContext, flat: FlatLevels): { unact: Value; valid: Value } {
  const { g } = ctx;
  const parts = flat.memory.levels.map((lv, l) => {
    const notMask = g.cast(g.op1('Not', [flat.masks[l]!]), 'float32');
    const validH = g.reduceSum(g.select(notMask, 2, 0), [1], false); // [B]
    const validW = g.reduceSum(g.select(notMask, 1, 0), [1], false);
    const range = (n: Value) => g.cast(g.op1('Range', [g.ints([0], []), g.squeeze(n, [0]), g.ints([1], [])]), 'float32');
    const hw = g.concat([lv.h, lv.w], 0);
    const ys = g.op1('Expand', [g.unsqueeze(range(lv.h), [1]), hw]); // [H, W]
    const xs = g.op1('Expand', [g.unsqueeze(range(lv.w), [0]), hw]);
    const xy = g.unsqueeze(g.concat([g.unsqueeze(xs, [2]), g.unsqueeze(ys, [2])], 2), [0]); // [1, H, W, 2]
    const scale = g.reshape(g.concat([g.unsqueeze(validW, [1]), g.unsqueeze(validH, [1])], 1), [-1, 1, 1, 2]);
    const centre = g.div(g.add(xy, g.scalar(0.5)), scale); // [B, H, W, 2]
    const wh = g.op1('Expand', [g.scalar(0.05 * 2 ** l), g.op1('Shape', [centre])]);
    return g.reshape(g.concat([centre, wh], 3), [0, -1, 4]);
  });
  const p = g.concat(parts, 1);
  const inRange = g.op1('And', [g.op1('Greater', [p, g.scalar(0.01)]), g.op1('Less', [p, g.scalar(0.99)])]);
  // all(-1): the minimum of the 0/1 indicators over the four coordinates.
  const valid = g.op1('Greater', [g.reduce('ReduceMin', g.cast(inRange, 'float32'), [2]), g.scalar(0.5)]); // [B, S, 1]
  const inf = g.scalar(Infinity);
  let unact = g.op1('Log', [g.div(p, g.sub(g.scalar(1), p))]);
  unact = g.where(g.unsqueeze(flat.maskFlat, [2]), inf, unact);
  unact = g.where(g.op1('Not', [valid]), inf, unact);
  return { unact, valid };
}

export interface SelectedQueries {
  reference: Value; // [B, Q, 4] sigmoid space
  target: Value; // [B, Q, d] the learnt query contents
  targetLoc?: Value; // [B, Q, d] the decoupled decoder's learnt localisation contents
}

export function emitQuerySelection(ctx: EmitContext, cfg: ExportConfig, flat: FlatLevels, memory: Value, padded: boolean): SelectedQueries {
  const { g } = ctx;
  return g.scoped('query_selection', () => {
    const { unact, valid } = encoderProposals(ctx, flat);
    const zero = g.scalar(0);
    let outputMemory = g.where(g.unsqueeze(flat.maskFlat, [2]), zero, memory);
    outputMemory = g.where(g.op1('Not', [valid]), zero, outputMemory);
    outputMemory = layerNorm(ctx, linear(ctx, outputMemory, 'transformer.enc_output'), 'transformer.enc_output_norm');
    const last = cfg.decoderLayers;
    const logits = linear(ctx, outputMemory, `class_embed.${last}`); // [B, S, C]
    const coordUnact = g.add(mlp(ctx, outputMemory, `bbox_embed.${last}`, 3), unact); // [B, S, 4]
    let scores = g.reduce('ReduceMax', logits, [2], false); // [B, S]
    if (padded && cfg.padInvariant) scores = g.where(flat.maskFlat, g.scalar(-Infinity), scores);
    const [, topk] = g.op2('TopK', [scores, g.ints([cfg.numQueries])], { axis: 1, largest: 1, sorted: 1 }); // [B, Q]
    const index = g.op1('Expand', [g.unsqueeze(topk, [2]), g.concat([g.op1('Shape', [topk]), g.ints([4])], 0)]);
    const reference = g.sigmoid(g.op1('GatherElements', [coordUnact, index], { axis: 1 }));
    const batched = (name: string) => {
      const embed = ctx.w(name);
      const tgt = g.weight(name, embed.data, [1, ...embed.shape]);
      return g.op1('Expand', [tgt, g.concat([g.dim(reference, 0), g.ints(embed.shape)], 0)]);
    };
    const target = batched('transformer.tgt_embed.weight');
    if (cfg.decoder !== 'decoupled') return { reference, target };
    return { reference, target, targetLoc: batched('transformer.tgt_embed_loc.weight') };
  });
}
