// Fused classification losses of the criterion (docs/numerical-contract.md §D.1, D.2, D.2b,
// D.2c, D.7): the Align loss (default), the released IA-BCE, the comparison-table losses
// (focal, QFL, VFL, Stable-DINO's position-supervised loss) and SD-DETR's task alignment loss
// (docs/neighbour-methods.md §2.4), each as ONE element-wise kernel that returns the loss SUM
// and ∂sum/∂logits in a single pass (CPU and CUDA).
//
// Dense layout (any shape, the same for every tensor; the criterion passes [B·Q, C]):
//   logits    x   float32 / float64 (float16 / bfloat16 too; they compute in float32)
//   target    t   the soft target of each POSITIVE entry (ignored where positive is false);
//                 detached: no gradient flows to it. Any floating dtype; read in the compute type
//                 (float64 for float64 logits, float32 otherwise). Values are not range-checked.
//   positive      bool (or uint8): the matched (query, GT class) entries.
//   weights   w   optional (undefined = 1): a per-entry factor on the loss and its gradient
//                 (e.g. mmdet-style label weights, or 0 to mask padded queries).
// With p = σ(x), log p = −softplus(−x), log(1−p) = −softplus(x) (never log(σ(x))):
//   kind        positive entry (target t)                         every other entry
//   Align       −t(1−p)^γ log p − (1−t) p^γ log(1−p)      (D.2b)  −p^γ log(1−p)
//   IaBce       BCE(p, t) = −t log p − (1−t) log(1−p)     (D.2)   −p^γ log(1−p)
//   Focal       −α (1−p)^γ log p   (t unused, one-hot)    (D.1)   −(1−α) p^γ log(1−p)
//   Qfl         BCE(p, t)·|t − p|^β                       (D.2c)  −p^β log(1−p)   (= the t = 0 case)
//   Vfl         t·BCE(p, t) if t > 0, else −α_v p^γ log(1−p)  (D.2c)  −α_v p^γ log(1−p)
//   StableDino  α |t − p|^γ BCE(p, t)                     (D.7)   −(1−α) p^γ log(1−p)
//   SdAlign     BCE(p, t)·|t − p|^γ                       (§2.4)  −p^γ log(1−p)
// SdAlign (SD-DETR's TAL) is the Qfl row with β = γ: its own kind, not a Qfl alias, so that the
// criterion and the public op name it, and so that it takes γ (its focusing exponent, shared
// with the other kinds) rather than qflBeta. The kernel runs the Qfl formula for both.
// VFL follows VarifocalNet / mmdetection's varifocal_loss (weight t·[t>0] + α_v·p^γ·[t≤0]): a
// positive entry whose target is 0 (a matched prediction with IoU 0) is treated as a negative.
// Modulating factors (p^γ, (1−p)^γ, |t−p|^γ) are NOT detached: the gradient flows through them
// (docs/numerical-contract.md §H.1). Stable-DINO's code writes (T − p)^γ; |T − p|^γ is the same for the default γ = 2
// and stays real for other γ.
//
// What the caller computes (docs/numerical-contract.md §D): the targets (see align_targets.h: q = p^α·IoU^(1−α),
// detached; Align t = e^(−r/τ)·q; IA-BCE t = e^(−r/τ)·max(q, 0.01); QFL / VFL t = IoU;
// Stable-DINO t = IoU² rescaled per image; SdAlign t = q, no clamp and no prime weights: TAL's
// s^α·u^β with α = 0.25, β = 0.75 = 1 − α is the same quality), and the normalisation: every
// loss here is a SUM; the criterion divides by num_boxes (docs/numerical-contract.md §D).
//
// Layers: alignClassificationLoss() is the autograd entry the criterion calls (the gradient is
// computed in the forward pass and scaled in backward); alignLossForwardBackward() validates and
// dispatches by device to the CPU kernel (align_loss_cpu.cpp) or the CUDA kernel
// (align_loss_cuda_glue.cpp → align_loss_cuda_kernels.cu).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace adetr::ops {

// The loss kinds of the whole library: this op, its binding, and the criterion (train/), whose
// composed reference formula (train/losses.h) takes the same enum and parameters.
// New kinds go at the end: the CUDA kernel receives the kind as its index (align_math::Kind).
enum class AlignLossKind { Align, IaBce, Focal, Qfl, Vfl, StableDino, SdAlign };

// "align" | "ia-bce" | "focal" | "qfl" | "vfl" | "stable-dino" | "sd-align"; otherwise a
// RangeError "<argName>: unknown loss '<name>'; expected ..." (the Trainer passes "loss").
AlignLossKind parseAlignLossKind(const std::string& name, const char* argName = "kind");
const char* alignLossKindName(AlignLossKind kind);

struct AlignLossParams {
  double gamma = 2.0;        // γ: focusing exponent (every kind but QFL; both exponents of SdAlign)
  double focalAlpha = 0.25;  // α of Focal and StableDino (positives α, negatives 1 − α)
  double vflAlpha = 0.75;    // α_v: VFL negative weight
  double qflBeta = 2.0;      // β: QFL exponent
};

struct AlignLossResult {
  at::Tensor loss;        // 0-d sum: logits' dtype for float32 / float64, float32 for float16 / bfloat16
  at::Tensor gradLogits;  // ∂loss/∂logits, logits' shape and dtype; undefined when not requested
};

// Checks every argument (defined, dtype, device, equal shapes, finite non-negative parameters);
// throws adetr::ArgError whose message starts with the argument's name. Returns the element count.
int64_t validateAlignLoss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                          const at::Tensor& weights, const AlignLossParams& params);

// Loss sum and (when withGrad) its gradient in one pass, no autograd. Validates, then runs the
// CPU or CUDA kernel on logits' device. `weights` may be an undefined tensor.
AlignLossResult alignLossForwardBackward(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                                         const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                                         bool withGrad = true);

// The op with autograd: a 0-d loss sum whose gradient flows to `logits` only (target, positive
// and weights are constants). No double backward.
at::Tensor alignClassificationLoss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                                   const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params);

namespace detail {

// Device kernels. Arguments are validated and contiguous, all on one device; target and weights
// (when defined) have the compute type (float64 for float64 logits, float32 otherwise), positive
// is bool. Return {loss sum, grad or undefined}.
AlignLossResult alignLossCpu(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                             const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                             bool withGrad);
// Defined in align_loss_cuda_glue.cpp, built only with a CUDA libtorch (ADETR_WITH_CUDA).
AlignLossResult alignLossCuda(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& positive,
                              const at::Tensor& weights, AlignLossKind kind, const AlignLossParams& params,
                              bool withGrad);

}  // namespace detail
}  // namespace adetr::ops
