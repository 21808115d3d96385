// Targets of the Align loss (docs/numerical-contract.md §D.2b), of the released IA-BCE (§D.2) and of SD-DETR's
// task alignment loss (SdAlign, docs/neighbour-methods.md §2.4) for the matched predictions of one
// output, plus the prime-sample weights the box losses reuse.
//
// For each matched prediction i (K of them), with p_i = σ(logit of its GT's class) and u_i the
// IoU of its box with its GT box (both taken as constants: the result is detached):
//   q_i = p_i^α · u_i^(1−α)                           (α = 0.25: the quality exponent, not focal α)
//   IaBce only: q_i ← max(q_i, minQuality)            (0.01, BEFORE ranking and weighting)
//   (SdAlign: TAL's t = s^α·u^β with β = 1 − α is this q, unclamped like Align's; TAL has no
//    prime weights, so its callers pass primeWeights = false and get t = q)
//   r_i = rank of q_i among the predictions of the same group (one image's GT), descending:
//         0 = highest quality; ties keep the earlier entry first (the released code's torch.sort
//         leaves ties in an arbitrary order)
//   w_i = e^(−r_i/τ)                                  (τ = 1.5; all ones when primeWeights is false,
//                                                      e.g. DN queries and the k = 1 last layer)
//   t_i = w_i · q_i                                   (the loss target of the positive entry)
// The box losses of the same predictions are weighted by w_i too (L1 and GIoU, docs/numerical-contract.md §D.2 step 7).
#pragma once

#include <ATen/core/Tensor.h>

#include "ops/align_loss/align_loss.h"

namespace adetr::ops {

struct AlignTargetParams {
  double alpha = 0.25;       // quality exponent α in q = p^α·u^(1−α)
  double tau = 1.5;          // prime-sample temperature τ
  double minQuality = 0.01;  // IA-BCE's clamp of q (not applied by Align)
  bool primeWeights = true;  // false → w = 1 for every prediction
};

struct AlignTargets {
  at::Tensor quality;  // [K] q (clamped for IaBce), prob's dtype
  at::Tensor rank;     // [K] int64, rank within the group by quality descending
  at::Tensor weight;   // [K] e^(−rank/τ) (or ones), prob's dtype: the prime-sample weight
  at::Tensor target;   // [K] weight · quality, prob's dtype
};

// prob [K] and iou [K]: float tensors on one device (iou is clamped to [0, 1]); groups [K]:
// int64 / int32 key of each prediction's GT, unique per (image, GT), e.g. b·G_max + g.
// kind must be Align, IaBce or SdAlign. All outputs are detached, on prob's device. Ranks are computed on
// the host (K is the number of matched predictions, a few hundred at most).
AlignTargets alignTargets(const at::Tensor& prob, const at::Tensor& iou, const at::Tensor& groups, AlignLossKind kind,
                          const AlignTargetParams& params);

}  // namespace adetr::ops
