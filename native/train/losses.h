// The composed (autograd) classification losses of the criterion (docs/numerical-contract.md §D): the reference the
// fused kernel (ops/align_loss) is tested against, and the criterion's path when
// CriterionOptions::fusedClassLoss is false. The kinds and their parameters are the op's
// (ops::AlignLossKind, ops::AlignLossParams; formulas in ops/align_loss/align_loss.h), built
// from ATen ops so autograd gives the gradients. Everything is in logit space (log-sigmoid),
// never log(sigmoid(x)).
//
// Dense layout: logits [N, C] for N predictions; `target` [N, C] holds each positive entry's
// soft target (0 elsewhere); `positive` [N, C] bool marks the positive entries (one per matched
// prediction, at its GT class). The loss is the SUM over all entries; the criterion divides.
#pragma once

#include <ATen/core/Tensor.h>

#include "ops/align_loss/align_loss.h"

namespace adetr::train {

// The composed classification loss, summed over all entries.
at::Tensor classificationLossComposed(ops::AlignLossKind kind, const at::Tensor& logits, const at::Tensor& target,
                                      const at::Tensor& positive, const ops::AlignLossParams& params);

}  // namespace adetr::train
