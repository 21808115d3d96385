#include "model/deformable_attention.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/stack.h>
#include <torch/nn/init.h>

#include <algorithm>
#include <cmath>

#include "common/arg_error.h"
#include "ops/msda/msda.h"

namespace adetr::model {

DeformableAttentionImpl::DeformableAttentionImpl(int64_t dim, int64_t numHeads, int64_t numLevels, int64_t numPoints)
    : dim_(dim), numHeads_(numHeads), numLevels_(numLevels), numPoints_(numPoints) {
  samplingOffsets_ = register_module("sampling_offsets", torch::nn::Linear(dim, numHeads * numLevels * numPoints * 2));
  attentionWeights_ = register_module("attention_weights", torch::nn::Linear(dim, numHeads * numLevels * numPoints));
  valueProj_ = register_module("value_proj", torch::nn::Linear(dim, dim));
  outputProj_ = register_module("output_proj", torch::nn::Linear(dim, dim));
  resetParameters();
}

void DeformableAttentionImpl::resetParameters() {
  at::NoGradGuard noGrad;
  torch::nn::init::zeros_(samplingOffsets_->weight);
  // Head m samples along direction 2πm/M, scaled so the larger component is 1, at distance p+1
  // for point p; the same on every level.
  auto bias = samplingOffsets_->bias.view({numHeads_, numLevels_, numPoints_, 2});
  for (int64_t m = 0; m < numHeads_; ++m) {
    const double theta = 2.0 * M_PI * static_cast<double>(m) / static_cast<double>(numHeads_);
    const double c = std::cos(theta), s = std::sin(theta);
    const double norm = std::max(std::abs(c), std::abs(s));
    for (int64_t l = 0; l < numLevels_; ++l) {
      for (int64_t p = 0; p < numPoints_; ++p) {
        bias[m][l][p][0].fill_(c / norm * static_cast<double>(p + 1));
        bias[m][l][p][1].fill_(s / norm * static_cast<double>(p + 1));
      }
    }
  }
  torch::nn::init::zeros_(attentionWeights_->weight);
  torch::nn::init::zeros_(attentionWeights_->bias);
  torch::nn::init::xavier_uniform_(valueProj_->weight);
  torch::nn::init::zeros_(valueProj_->bias);
  torch::nn::init::xavier_uniform_(outputProj_->weight);
  torch::nn::init::zeros_(outputProj_->bias);
}

at::Tensor DeformableAttentionImpl::forward(const at::Tensor& query, const at::Tensor& queryPos,
                                            const at::Tensor& reference, const MultiScaleValue& ms) {
  const int64_t b = query.size(0), lq = query.size(1), s = ms.value.size(1);
  const int64_t dh = dim_ / numHeads_;
  auto q = queryPos.defined() ? query + queryPos : query;

  auto v = valueProj_->forward(ms.value);
  if (ms.paddingMask.defined()) v = v.masked_fill(ms.paddingMask.unsqueeze(-1), 0.0);
  v = v.view({b, s, numHeads_, dh});

  auto offsets = samplingOffsets_->forward(q).view({b, lq, numHeads_, numLevels_, numPoints_, 2});
  auto weights = at::softmax(attentionWeights_->forward(q).view({b, lq, numHeads_, numLevels_ * numPoints_}), -1)
                     .view({b, lq, numHeads_, numLevels_, numPoints_});

  at::Tensor locations;
  if (reference.size(-1) == 2) {
    // Offsets are in pixels of each level: divide x by W_l and y by H_l.
    auto shapes = ms.spatialShapes.to(offsets.scalar_type());
    auto normalizer = at::stack({shapes.select(1, 1), shapes.select(1, 0)}, -1);  // (W, H)
    locations = reference.view({b, lq, 1, numLevels_, 1, 2}) + offsets / normalizer.view({1, 1, 1, numLevels_, 1, 2});
  } else {
    checkType(reference.size(-1) == 4, "reference: last dimension must be 2 or 4, got ", reference.size(-1));
    auto centre = reference.narrow(-1, 0, 2).view({b, lq, 1, numLevels_, 1, 2});
    auto size = reference.narrow(-1, 2, 2).view({b, lq, 1, numLevels_, 1, 2});
    locations = centre + offsets / static_cast<double>(numPoints_) * size * 0.5;
  }
  auto out = ops::msDeformAttn(v, ms.spatialShapes, ms.levelStartIndex, locations, weights);
  return query + outputProj_->forward(out);
}

}  // namespace adetr::model
