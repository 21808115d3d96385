// The multi-scale deformable attention module (detrex MultiScaleDeformableAttention, docs/numerical-contract.md §B.4):
// projections around the MSDA op, with the residual inside.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace adetr::model {

// The flattened multi-scale value and its geometry, shared by every layer of a forward pass.
struct MultiScaleValue {
  at::Tensor value;            // [B, S, d]
  at::Tensor paddingMask;      // [B, S] bool, true = padding
  at::Tensor spatialShapes;    // [L, 2] int64 (H_l, W_l)
  at::Tensor levelStartIndex;  // [L] int64
};

class DeformableAttentionImpl : public torch::nn::Module {
 public:
  DeformableAttentionImpl(int64_t dim, int64_t numHeads, int64_t numLevels, int64_t numPoints);

  // query [B, Lq, d] (without position), queryPos [B, Lq, d]; reference [B, Lq, L, 2] (points)
  // or [B, Lq, L, 4] (boxes), normalised. Returns query + output_proj(MSDA(...)).
  at::Tensor forward(const at::Tensor& query, const at::Tensor& queryPos, const at::Tensor& reference,
                     const MultiScaleValue& value);

  // Re-applies the initialisation of docs/numerical-contract.md §B.4 (after a global xavier pass).
  void resetParameters();

 private:
  int64_t dim_, numHeads_, numLevels_, numPoints_;
  torch::nn::Linear samplingOffsets_{nullptr}, attentionWeights_{nullptr}, valueProj_{nullptr}, outputProj_{nullptr};
};
TORCH_MODULE(DeformableAttention);

}  // namespace adetr::model
