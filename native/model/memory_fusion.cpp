#include "model/memory_fusion.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/linear.h>

#include "common/arg_error.h"

namespace adetr::model {

DenseMemoryFusionImpl::DenseMemoryFusionImpl(int64_t dim, int64_t inputs) : dim_(dim), inputs_(inputs) {
  linear_ = register_module("0", torch::nn::Linear(inputs * dim, dim));
  norm_ = register_module("1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  at::NoGradGuard noGrad;
  linear_->bias.zero_();  // Stable-DINO: nn.init.constant_(bias, 0); the weight is set by xavierInitMatrices
}

at::Tensor DenseMemoryFusionImpl::forward(const std::vector<at::Tensor>& xs) {
  checkType(static_cast<int64_t>(xs.size()) == inputs_, "memory fusion: expected ", inputs_, " inputs, got ",
            xs.size());
  const at::Tensor& w = linear_->weight;  // [d, inputs·d]
  at::Tensor sum = at::linear(xs[0], w.narrow(1, 0, dim_), linear_->bias);
  for (int64_t k = 1; k < inputs_; ++k) sum = sum + at::linear(xs[k], w.narrow(1, k * dim_, dim_));
  return norm_->forward(sum);
}

}  // namespace adetr::model
