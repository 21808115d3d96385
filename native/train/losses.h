// Classification and box losses of the criterion (spec §d), composed from ATen ops so autograd
// gives their gradients. Everything is in logit space (log-sigmoid), never log(sigmoid(x)).
//
// Dense layout: logits [N, C] for N predictions; `target` [N, C] holds each positive entry's
// soft target (0 elsewhere); `positive` [N, C] bool marks the positive entries (one per matched
// prediction, at its GT class). Losses return the SUM over all entries; the criterion divides.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace adetr::train {

enum class ClassLossKind {
  Align,       // spec d.2b: −t(1−p)^γ log p − (1−t) p^γ log(1−p) on positives; −p^γ log(1−p) elsewhere
  IaBce,       // spec d.2:  BCE(p, t) on positives; −p^γ log(1−p) elsewhere
  Focal,       // spec d.1:  α_t (1−p_t)^γ BCE(p, onehot)
  Qfl,         // spec d.2c: BCE(p, t)·|t − p|^β, t = IoU on positives, 0 elsewhere
  Vfl,         // spec d.2c: positives BCE(p, t)·t (t > 0); negatives and t ≤ 0 positives α p^γ BCE(p, 0)
  StableDino,  // spec d.7:  α (T − p)^γ BCE(p, T) on positives; (1−α) p^γ BCE(p, 0) elsewhere
  SdAlign,     // neighbour-methods §2.4 (SD-DETR's TAL): Qfl with β = γ, t = p^α·IoU^(1−α) on positives
};

// Parses "align" | "ia-bce" | "focal" | "qfl" | "vfl" | "stable-dino" | "sd-align"; ArgError otherwise.
ClassLossKind parseClassLossKind(const std::string& name);
std::string classLossKindName(ClassLossKind kind);

struct ClassLossParams {
  double gamma = 2.0;       // focusing exponent of every loss
  double focalAlpha = 0.25; // focal / Stable-DINO balancing α
  double vflAlpha = 0.75;   // VFL negative weight
  double qflBeta = 2.0;     // QFL exponent (SdAlign uses gamma)
};

// The composed (autograd) classification loss, summed over all entries.
at::Tensor classificationLossComposed(ClassLossKind kind, const at::Tensor& logits, const at::Tensor& target,
                                      const at::Tensor& positive, const ClassLossParams& params);

}  // namespace adetr::train
