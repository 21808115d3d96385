// Stable-DINO's dense memory fusion (docs/neighbour-methods.md §1.2, read from Stable-DINO's
// StableDINOTransformerEncoder): the memory the two-stage selection and the decoder read is
//   LayerNorm(Linear(cat[x_0, x_1, …, x_L]))
// where x_0 is the flattened neck output (the encoder input, no position or level embedding)
// and x_i the output of encoder layer i. Linear then LayerNorm, no activation or residual.
//
// State-dict keys as Stable-DINO's (fusion_layer is an nn.Sequential): `fusion_layer.0.weight`
// [d, (L+1)·d], `fusion_layer.0.bias`, `fusion_layer.1.weight`, `fusion_layer.1.bias`.
// Initialisation: the weight is xavier-uniform (DINOTransformer.init_weights covers every
// transformer matrix; DinoImpl does the same), the bias 0, the LayerNorm (1, 0).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace adetr::model {

class DenseMemoryFusionImpl : public torch::nn::Module {
 public:
  // `inputs`: how many [.., d] tensors are fused (encoder layers + 1).
  DenseMemoryFusionImpl(int64_t dim, int64_t inputs);

  // xs[k]: [B, S, d], in the order x_0 (encoder input), x_1 … x_L. Computed as
  // Σ_k x_k·W_kᵀ + b, W_k the k-th block of d columns of W: the concatenation's product without
  // materialising the [B, S, (L+1)·d] tensor (Stable-DINO concatenates; the sums differ only in
  // rounding order).
  at::Tensor forward(const std::vector<at::Tensor>& xs);

  int64_t inputs() const { return inputs_; }

 private:
  int64_t dim_, inputs_;
  torch::nn::Linear linear_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(DenseMemoryFusion);

}  // namespace adetr::model
