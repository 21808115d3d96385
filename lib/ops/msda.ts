// Multi-scale deformable attention (native/ops/msda, binding in native/binding/msda_binding.cc).
import { binding } from '../binding';
import { Tensor, handleOf, wrapHandle } from '../tensor';

/** The three gradients of {@link msDeformAttn}, shaped like the inputs they belong to. */
export interface MsDeformAttnGrads {
  /** ∂loss/∂value, [N, S, M, D], value's dtype. */
  gradValue: Tensor;
  /** ∂loss/∂samplingLocations, [N, Q, M, L, P, 2]; zero for samples wholly outside their map. */
  gradSamplingLocations: Tensor;
  /** ∂loss/∂attentionWeights, [N, Q, M, L, P]. */
  gradAttentionWeights: Tensor;
}

/**
 * Multi-scale deformable attention (Deformable-DETR's `MSDeformAttnFunction`), forward.
 *
 * For every batch n, query q, head m and channel d:
 * `out[n, q, m·D + d] = Σ_l Σ_p attentionWeights[n,q,m,l,p] · bilinear(V_l, x·W_l − 0.5, y·H_l − 0.5)`,
 * where `(x, y) = samplingLocations[n,q,m,l,p]` are normalised to [0, 1] over level l's H_l×W_l map,
 * `V_l` is that level's slice of `value[n, :, m, d]` viewed row-major as [H_l, W_l], and bilinear
 * sampling reads zero outside the map (identical to `grid_sample(…, align_corners=false,
 * padding_mode='zeros')` on `grid = 2·loc − 1`). Locations outside [0, 1] are allowed.
 *
 * Runs on the CPU (float32, float64) or, in a CUDA build, on the GPU (also float16 / bfloat16,
 * accumulating in float32) on the device of `value`.
 *
 * @param value             [N, S, M, D] float; S = Σ_l H_l·W_l, levels concatenated in order.
 * @param spatialShapes     [L, 2] int64 (or int32): (H_l, W_l) of each level, each ≥ 1.
 * @param levelStartIndex   [L] int64 (or int32): offset of each level in S (0, H_0·W_0, …).
 * @param samplingLocations [N, Q, M, L, P, 2], value's dtype: (x, y) per sampling point.
 * @param attentionWeights  [N, Q, M, L, P], value's dtype (usually a softmax over L·P).
 * @returns [N, Q, M·D] in value's dtype (channel index m·D + d).
 * @throws TypeError for a missing or disposed Tensor, a wrong rank, dtype or device;
 *         RangeError for sizes that disagree (N, M, L, P, Q across arguments, the last dim of
 *         spatialShapes / samplingLocations), level shapes whose Σ H·W differs from S, or a
 *         levelStartIndex that is not their running sum. Messages start with the argument's name.
 */
export function msDeformAttn(value: Tensor, spatialShapes: Tensor, levelStartIndex: Tensor,
  samplingLocations: Tensor, attentionWeights: Tensor): Tensor {
  const handle = binding().msDeformAttn(handleOf(value, 'value'), handleOf(spatialShapes, 'spatialShapes'),
    handleOf(levelStartIndex, 'levelStartIndex'), handleOf(samplingLocations, 'samplingLocations'),
    handleOf(attentionWeights, 'attentionWeights'));
  return wrapHandle(handle);
}

/**
 * Backward of {@link msDeformAttn}: given `gradOutput` = ∂loss/∂output ([N, Q, M·D], value's
 * dtype), returns the gradients with respect to value, samplingLocations and attentionWeights
 * (none flows to spatialShapes or levelStartIndex). Corners outside a map get no value gradient;
 * samples wholly outside get zero location and weight gradients.
 *
 * @throws as {@link msDeformAttn}, and for a gradOutput of the wrong rank, dtype, device or shape.
 */
export function msDeformAttnBackward(value: Tensor, spatialShapes: Tensor, levelStartIndex: Tensor,
  samplingLocations: Tensor, attentionWeights: Tensor, gradOutput: Tensor): MsDeformAttnGrads {
  const g = binding().msDeformAttnBackward(handleOf(value, 'value'), handleOf(spatialShapes, 'spatialShapes'),
    handleOf(levelStartIndex, 'levelStartIndex'), handleOf(samplingLocations, 'samplingLocations'),
    handleOf(attentionWeights, 'attentionWeights'), handleOf(gradOutput, 'gradOutput'));
  return {
    gradValue: wrapHandle(g.gradValue),
    gradSamplingLocations: wrapHandle(g.gradSamplingLocations),
    gradAttentionWeights: wrapHandle(g.gradAttentionWeights),
  };
}
