// Fused classification losses of the criterion and the Align / IA-BCE / SD-align targets
// (native/ops/align_loss, binding in native/binding/align_loss_binding.cc).
import { binding } from '../binding';
import { Tensor, handleOf, wrapHandle } from '../tensor';

/**
 * Which classification loss {@link alignLoss} computes (docs/numerical-contract.md §D):
 * - `'align'` (default): the Align loss of the Align-DETR poster (§D.2b);
 * - `'ia-bce'`: the released IA-BCE (§D.2);
 * - `'focal'`: DINO's sigmoid focal loss (§D.1);
 * - `'qfl'`, `'vfl'`: quality / varifocal loss (§D.2c);
 * - `'stable-dino'`: Stable-DINO's position-supervised loss (§D.7);
 * - `'sd-align'`: SD-DETR's task alignment loss (docs/neighbour-methods.md §2.4): the `'qfl'` form
 *   with `gamma` as its exponent, its target t = p^0.25·IoU^0.75 from {@link alignTargets}.
 */
export type AlignLossKind = 'align' | 'ia-bce' | 'focal' | 'qfl' | 'vfl' | 'stable-dino' | 'sd-align';

/** Options of {@link alignLoss}; every field is optional. */
export interface AlignLossOptions {
  /** The loss; default `'align'`. */
  kind?: AlignLossKind;
  /** Focusing exponent γ of every kind but QFL (both exponents of `'sd-align'`), in [0, 16]; default 2. */
  gamma?: number;
  /** α of `'focal'` and `'stable-dino'` (positives α, negatives 1 − α), in [0, 1]; default 0.25. */
  focalAlpha?: number;
  /** Negative-entry weight α of `'vfl'`, ≥ 0; default 0.75. */
  vflAlpha?: number;
  /** Exponent β of `'qfl'` (not of `'sd-align'`, which uses `gamma`), in [0, 16]; default 2. */
  qflBeta?: number;
  /** Compute the gradient too; default true. With false, `gradLogits` is null. */
  grad?: boolean;
}

/** Result of {@link alignLoss}. */
export interface AlignLossResult {
  /** The loss SUM over all entries (divide by num_boxes for the criterion's value, docs/numerical-contract.md §D). */
  loss: number;
  /** ∂loss/∂logits, logits' shape and dtype; null when `options.grad` is false. */
  gradLogits: Tensor | null;
}

/** Options of {@link alignTargets}; every field is optional. */
export interface AlignTargetOptions {
  /**
   * `'align'` (default), `'ia-bce'` (which clamps q at `minQuality` before ranking) or
   * `'sd-align'` (q unclamped, as `'align'`; no prime weights unless `primeWeights` is set, so
   * `target` = q = p^0.25·IoU^0.75, SD-DETR's task-alignment target).
   */
  kind?: 'align' | 'ia-bce' | 'sd-align';
  /** Quality exponent α in q = p^α·IoU^(1−α), in [0, 1]; default 0.25. */
  alpha?: number;
  /** Prime-sample temperature τ > 0; default 1.5. */
  tau?: number;
  /** IA-BCE's lower clamp of q, in [0, 1]; default 0.01. */
  minQuality?: number;
  /** Weight by rank (e^(−r/τ)); false gives weight 1 (DN queries, one-to-one layers). Default true (`'sd-align'`: false). */
  primeWeights?: boolean;
}

/** Result of {@link alignTargets}; every tensor is [K]. */
export interface AlignTargets {
  /** q = p^α·IoU^(1−α) (clamped for `'ia-bce'`), prob's dtype. */
  quality: Tensor;
  /** int64 rank of each prediction within its group by quality, descending (0 = best). */
  rank: Tensor;
  /** The prime-sample weight e^(−rank/τ) (also the weight of the box losses), prob's dtype. */
  weight: Tensor;
  /** The classification target weight·quality of the positive entry, prob's dtype. */
  target: Tensor;
}

/**
 * A classification loss of the criterion and its gradient in one fused pass (CPU, or CUDA in a
 * CUDA build, on the device of `logits`).
 *
 * Every tensor has the same shape (the criterion uses [B·Q, C]). With p = σ(x) and
 * log p, log(1 − p) computed in logit space (stable for any finite logit):
 *
 * | kind          | positive entry (target t)                  | every other entry          |
 * |---------------|--------------------------------------------|----------------------------|
 * | `align`       | −t(1−p)^γ log p − (1−t) p^γ log(1−p)       | −p^γ log(1−p)              |
 * | `ia-bce`      | −t log p − (1−t) log(1−p)                  | −p^γ log(1−p)              |
 * | `focal`       | −α(1−p)^γ log p  (t unused)                | −(1−α) p^γ log(1−p)        |
 * | `qfl`         | BCE(p, t)·\|t−p\|^β                        | −p^β log(1−p)              |
 * | `vfl`         | t·BCE(p, t); t ≤ 0: −α_v p^γ log(1−p)      | −α_v p^γ log(1−p)          |
 * | `stable-dino` | α\|t−p\|^γ BCE(p, t)                       | −(1−α) p^γ log(1−p)        |
 * | `sd-align`    | BCE(p, t)·\|t−p\|^γ  (`qfl` with β = γ)    | −p^γ log(1−p)              |
 *
 * `vfl` weighs BCE by t·[t>0] + α_v·p^γ·[t≤0] as VarifocalNet and mmdetection's `varifocal_loss`:
 * a positive whose target is 0 (a matched prediction with IoU 0) is a negative.
 * Each entry's loss is multiplied by `weights` when given. The modulating factors are not
 * detached (the gradient flows through p^γ etc.); `target` is a constant.
 *
 * @param logits   float32 / float64 tensor, any shape.
 * @param target   the soft target t of each positive entry (ignored elsewhere), a float tensor of
 *                 logits' shape, e.g. from {@link alignTargets}.
 * @param positive uint8 (0 / 1) tensor of logits' shape marking the positive entries.
 * @param weights  optional float tensor of logits' shape (per-entry factor), or null.
 * @returns the loss sum and ∂sum/∂logits.
 * @throws TypeError for a missing or disposed Tensor, a wrong dtype, an unknown option or an
 *         option of the wrong type; RangeError for shapes that differ from logits', an unknown
 *         kind, or a parameter out of its range. Messages start with the argument's name.
 */
export function alignLoss(logits: Tensor, target: Tensor, positive: Tensor, weights: Tensor | null = null,
  options: AlignLossOptions = {}): AlignLossResult {
  const r = binding().alignLoss(handleOf(logits, 'logits'), handleOf(target, 'target'),
    handleOf(positive, 'positive'), weights === null || weights === undefined ? null : handleOf(weights, 'weights'),
    options);
  return { loss: r.loss, gradLogits: r.gradLogits === null ? null : wrapHandle(r.gradLogits) };
}

/**
 * The Align-loss (docs/numerical-contract.md §D.2b), IA-BCE (§D.2) or SD-align (docs/neighbour-methods.md §2.4) targets of
 * K matched predictions:
 * q = p^α·IoU^(1−α) (IA-BCE: max(q, minQuality)), the rank r of each prediction among those of
 * its group (the same image's GT) by q descending (ties: earlier entry first), the prime-sample
 * weight w = e^(−r/τ), and the target t = w·q. All are constants (no gradient).
 *
 * @param prob   [K] float: σ(logit) of each prediction at its GT's class.
 * @param iou    [K] float: IoU of each prediction's box with its GT box (clamped to [0, 1]).
 * @param groups [K] int64 / int32: a key unique per (image, GT), e.g. b·G_max + g.
 * @throws TypeError / RangeError for wrong dtypes, lengths, kinds or option values.
 */
export function alignTargets(prob: Tensor, iou: Tensor, groups: Tensor, options: AlignTargetOptions = {}):
  AlignTargets {
  const r = binding().alignTargets(handleOf(prob, 'prob'), handleOf(iou, 'iou'), handleOf(groups, 'groups'), options);
  return {
    quality: wrapHandle(r.quality), rank: wrapHandle(r.rank), weight: wrapHandle(r.weight),
    target: wrapHandle(r.target),
  };
}
