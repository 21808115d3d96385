#include "train/losses.h"

#include <ATen/ops/log_sigmoid.h>
#include <ATen/ops/where.h>

namespace adetr::train {

at::Tensor classificationLossComposed(ops::AlignLossKind kind, const at::Tensor& logits, const at::Tensor& target,
                                      const at::Tensor& positive, const ops::AlignLossParams& params) {
  using ops::AlignLossKind;
  const double g = params.gamma;
  auto logP = at::log_sigmoid(logits);     // log p
  auto log1mP = at::log_sigmoid(-logits);  // log(1 − p)
  auto p = logits.sigmoid();
  auto t = target.detach();
  auto bce = -(t * logP + (1 - t) * log1mP);  // BCE(p, t)
  auto negative = -p.pow(g) * log1mP;         // p^γ BCE(p, 0)
  at::Tensor pos;
  switch (kind) {
    case AlignLossKind::Align: pos = -t * (1 - p).pow(g) * logP - (1 - t) * p.pow(g) * log1mP; break;
    case AlignLossKind::IaBce: pos = bce; break;
    case AlignLossKind::Focal: {
      // One-hot targets: positives α(1−p)^γ(−log p); negatives (1−α)p^γ(−log(1−p)).
      pos = -params.focalAlpha * (1 - p).pow(g) * logP;
      negative = negative * (1 - params.focalAlpha);
      break;
    }
    case AlignLossKind::Qfl:
    case AlignLossKind::SdAlign: {
      // SD-DETR's TAL is QFL with its focusing exponent γ as β (docs/neighbour-methods.md §2.4).
      const double beta = kind == AlignLossKind::Qfl ? params.qflBeta : g;
      pos = bce * (t - p).abs().pow(beta);
      negative = -log1mP * p.pow(beta);  // t = 0: BCE(p, 0)·|0 − p|^β
      break;
    }
    case AlignLossKind::Vfl:
      // VarifocalNet / mmdetection: weight t·[t > 0] + α·p^γ·[t ≤ 0], so a matched prediction
      // whose target is 0 (IoU 0) takes the negative branch instead of t·BCE = 0.
      negative = negative * params.vflAlpha;
      pos = at::where(t > 0, bce * t, negative);
      break;
    case AlignLossKind::StableDino:
      pos = params.focalAlpha * (t - p).pow(g) * bce;
      negative = negative * (1 - params.focalAlpha);
      break;
  }
  return at::where(positive, pos, negative).sum();
}

}  // namespace adetr::train
