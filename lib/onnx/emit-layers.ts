// Emitters of the small building blocks (native/model/layers.*): Linear, MLP, FFN, LayerNorm and
// the multi-head self-attention, reading their weights by detrex's state-dict names.
import type { GraphBuilder, Value } from './graph';
import { transposed, type WeightArray, type WeightSource } from './weights';

/** What every emitter needs: the graph and the weights. */
export interface EmitContext {
  g: GraphBuilder;
  w: WeightSource;
}

/** x·Wᵀ + b for a weight [out, in] (stored transposed for MatMul) and bias [out]. */
export function linearFrom(ctx: EmitContext, x: Value, weight: WeightArray, bias: WeightArray | undefined, name: string): Value {
  const t = transposed(weight);
  let y = ctx.g.op1('MatMul', [x, ctx.g.weight(`${name}.weight_t`, t.data, t.shape)]);
  if (bias) y = ctx.g.add(y, ctx.g.weight(`${name}.bias`, bias.data, bias.shape));
  return y;
}

/** torch.nn.Linear `prefix` (prefix.weight, prefix.bias). */
export function linear(ctx: EmitContext, x: Value, prefix: string): Value {
  return linearFrom(ctx, x, ctx.w(`${prefix}.weight`), ctx.w(`${prefix}.bias`), prefix);
}

/** detrex MLP: Linear → ReLU → … → Linear (keys prefix.layers.{i}). */
export function mlp(ctx: EmitContext, x: Value, prefix: string, numLayers: number): Value {
  let y = x;
  for (let i = 0; i < numLayers; i++) {
    y = linear(ctx, y, `${prefix}.layers.${i}`);
    if (i + 1 < numLayers) y = ctx.g.relu(y);
  }
  return y;
}

/** detrex FFN with its residual: x + fc2(ReLU(fc1(x))) (keys layers.0.0, layers.1). */
export function ffn(ctx: EmitContext, x: Value, prefix: string): Value {
  const h = ctx.g.relu(linear(ctx, x, `${prefix}.layers.0.0`));
  return ctx.g.add(x, linear(ctx, h, `${prefix}.layers.1`));
}

/** LayerNorm over the last axis (eps 1e-5, torch's default). */
export function layerNorm(ctx: EmitContext, x: Value, prefix: string): Value {
  const gamma = ctx.w(`${prefix}.weight`);
  const beta = ctx.w(`${prefix}.bias`);
  return ctx.g.op1(
    'LayerNormalization',
    [x, ctx.g.weight(`${prefix}.weight`, gamma.data, gamma.shape), ctx.g.weight(`${prefix}.bias`, beta.data, beta.shape)],
    { axis: -1, epsilon: { float: 1e-5 } },
  );
}

/**
 * PyTorch-layout multi-head attention without a mask (inference has no denoising queries):
 * q = (x_q W_q + b_q)/√d_h, softmax(q kᵀ) v, then out_proj. `prefix` holds in_proj_weight,
 * in_proj_bias and out_proj. Inputs [B, L, d].
 */
export function multiheadAttention(ctx: EmitContext, query: Value, key: Value, value: Value, prefix: string, dim: number, heads: number): Value {
  const { g } = ctx;
  const dh = dim / heads;
  const w = ctx.w(`${prefix}.in_proj_weight`);
  const b = ctx.w(`${prefix}.in_proj_bias`);
  const part = (i: number, x: Value, tag: string) => {
    const wi = { data: w.data.slice(i * dim * dim, (i + 1) * dim * dim), shape: [dim, dim] };
    const bi = { data: b.data.slice(i * dim, (i + 1) * dim), shape: [dim] };
    const y = linearFrom(ctx, x, wi, bi, `${prefix}.in_proj_${tag}`);
    return g.transpose(g.reshape(y, [0, 0, heads, dh]), [0, 2, 1, 3]); // [B, M, L, dh]
  };
  const q = g.mul(part(0, query, 'q'), g.scalar(1 / Math.sqrt(dh)));
  const k = part(1, key, 'k');
  const v = part(2, value, 'v');
  const scores = g.op1('MatMul', [q, g.transpose(k, [0, 1, 3, 2])]);
  const out = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: -1 }), v]); // [B, M, Lq, dh]
  const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, dim]);
  return linear(ctx, merged, `${prefix}.out_proj`);
}
