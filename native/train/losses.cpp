#include "train/losses.h"

#include <ATen/ops/log_sigmoid.h>
#include <ATen/ops/where.h>

#include "common/arg_error.h"

namespace adetr::train {

ClassLossKind parseClassLossKind(const std::string& name) {
  if (name == "align") return ClassLossKind::Align;
  if (name == "ia-bce") return ClassLossKind::IaBce;
  if (name == "focal") return ClassLossKind::Focal;
  if (name == "qfl") return ClassLossKind::Qfl;
  if (name == "vfl") return ClassLossKind::Vfl;
  if (name == "stable-dino") return ClassLossKind::StableDino;
  if (name == "sd-align") return ClassLossKind::SdAlign;
  checkRange(false, "loss: unknown loss '", name,
             "'; expected 'align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino' or 'sd-align'");
  return ClassLossKind::Align;
}

std::string classLossKindName(ClassLossKind kind) {
  switch (kind) {
    case ClassLossKind::Align: return "align";
    case ClassLossKind::IaBce: return "ia-bce";
    case ClassLossKind::Focal: return "focal";
    case ClassLossKind::Qfl: return "qfl";
    case ClassLossKind::Vfl: return "vfl";
    case ClassLossKind::StableDino: return "stable-dino";
    case ClassLossKind::SdAlign: return "sd-align";
  }
  return "align";
}

at::Tensor classificationLossComposed(ClassLossKind kind, const at::Tensor& logits, const at::Tensor& target,
                                      const at::Tensor& positive, const ClassLossParams& params) {
  const double g = params.gamma;
  auto logP = at::log_sigmoid(logits);      // log p
  auto log1mP = at::log_sigmoid(-logits);   // log(1 − p)
  auto p = logits.sigmoid();
  auto t = target.detach();
  auto bce = -(t * logP + (1 - t) * log1mP);  // BCE(p, t)
  auto negative = -p.pow(g) * log1mP;          // p^γ BCE(p, 0)
  at::Tensor pos;
  switch (kind) {
    case ClassLossKind::Align:
      pos = -t * (1 - p).pow(g) * logP - (1 - t) * p.pow(g) * log1mP;
      break;
    case ClassLossKind::IaBce:
      pos = bce;
      break;
    case ClassLossKind::Focal: {
      // One-hot targets: positives α(1−p)^γ(−log p); negatives (1−α)p^γ(−log(1−p)).
      pos = -params.focalAlpha * (1 - p).pow(g) * logP;
      negative = negative * (1 - params.focalAlpha);
      break;
    }
    case ClassLossKind::Qfl:
    case ClassLossKind::SdAlign: {
      // SD-DETR's TAL is QFL with its focusing exponent γ as β (neighbour-methods §2.4).
      const double beta = kind == ClassLossKind::Qfl ? params.qflBeta : g;
      pos = bce * (t - p).abs().pow(beta);
      negative = -log1mP * p.pow(beta);  // t = 0: BCE(p, 0)·|0 − p|^β
      break;
    }
    case ClassLossKind::Vfl:
      // VarifocalNet / mmdetection: weight t·[t > 0] + α·p^γ·[t ≤ 0], so a matched prediction
      // whose target is 0 (IoU 0) takes the negative branch instead of t·BCE = 0.
      negative = negative * params.vflAlpha;
      pos = at::where(t > 0, bce * t, negative);
      break;
    case ClassLossKind::StableDino:
      pos = params.focalAlpha * (t - p).pow(g) * bce;
      negative = negative * (1 - params.focalAlpha);
      break;
  }
  return at::where(positive, pos, negative).sum();
}

}  // namespace adetr::train
