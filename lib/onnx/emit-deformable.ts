// The deformable attention module around the sampling (native/model/deformable_attention.*):
// value projection (padding zeroed), sampling offsets and attention weights from query + pos,
// sampling locations from point or box references, the sampling, the output projection and the
// residual.
import type { ExportConfig } from './config';
import { linear, type EmitContext } from './emit-layers';
import { emitMsda, type LevelGeometry, type MsdaMode } from './emit-msda';
import type { Value } from './graph';

/** The flattened multi-scale memory every attention of a forward pass reads. */
export interface MultiScaleMemory {
  value: Value; // [B, S, d]
  paddingMask?: Value; // [B, S] bool, or none for an unpadded batch
  levels: LevelGeometry[];
  normalizer: Value; // [L, 2] float (W_l, H_l)
}

export interface DeformableOptions {
  cfg: ExportConfig;
  msda: MsdaMode;
}

/**
 * query [B, Q, d], queryPos [B, Q, d]; reference [B, Q, L, 2] (points) or [B, Q, L, 4] (boxes),
 * `referenceDims` saying which. Returns query + output_proj(MSDA(...)).
 */
export function deformableAttention(
  ctx: EmitContext,
  opts: DeformableOptions,
  prefix: string,
  query: Value,
  queryPos: Value,
  reference: Value,
  referenceDims: 2 | 4,
  memory: MultiScaleMemory,
): Value {
  const { g } = ctx;
  const { hiddenDim: d, numHeads: m, numLevels: L, numPoints: P } = opts.cfg;
  const dh = d / m;
  return g.scoped(prefix, () => {
    const q = g.add(query, queryPos);
    let v = linear(ctx, memory.value, `${prefix}.value_proj`);
    if (memory.paddingMask !== undefined) v = g.where(g.unsqueeze(memory.paddingMask, [2]), g.scalar(0), v);
    v = g.reshape(v, [0, 0, m, dh]);
    const offsets = g.reshape(linear(ctx, q, `${prefix}.sampling_offsets`), [0, 0, m, L, P, 2]);
    const logits = g.reshape(linear(ctx, q, `${prefix}.attention_weights`), [0, 0, m, L * P]);
    const weights = g.reshape(g.op1('Softmax', [logits], { axis: -1 }), [0, 0, m, L, P]);
    let locations: Value;
    if (referenceDims === 2) {
      const ref = g.reshape(reference, [0, 0, 1, L, 1, 2]);
      locations = g.add(ref, g.div(offsets, g.reshape(memory.normalizer, [1, 1, 1, L, 1, 2])));
    } else {
      const centre = g.reshape(g.slice(reference, [0], [2], [3]), [0, 0, 1, L, 1, 2]);
      const size = g.reshape(g.slice(reference, [2], [4], [3]), [0, 0, 1, L, 1, 2]);
      locations = g.add(centre, g.mul(g.mul(g.div(offsets, g.scalar(P)), size), g.scalar(0.5)));
    }
    const sampled = emitMsda(g, { value: v, locations, weights, levels: memory.levels, heads: m, headDim: dh }, opts.msda);
    return g.add(query, linear(ctx, sampled, `${prefix}.output_proj`));
  });
}
