// Small building blocks shared by the encoder, decoder and heads. Submodule names follow
// detrex's, so state-dict keys match its checkpoints.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace adetr::model {

// Multi-layer perceptron: Linear → ReLU → ... → Linear (detrex MLP; keys layers.{i}.weight).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t inDim, int64_t hiddenDim, int64_t outDim, int64_t numLayers);
  at::Tensor forward(const at::Tensor& x);
  size_t numLayers() const { return layers_->size(); }

 private:
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(MLP);

// Feed-forward block with its residual (detrex FFN: keys layers.0.0.* and layers.1.*):
// x + Linear(ReLU(Linear(x))). Dropout is 0 in the recipe and therefore omitted.
class FFNImpl : public torch::nn::Module {
 public:
  FFNImpl(int64_t dim, int64_t hiddenDim);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(FFN);

// Multi-head attention with PyTorch's parameter layout (in_proj_weight [3d, d], in_proj_bias,
// out_proj), batch-first. `attnMask` is bool [Lq, Lk], true = may not attend.
class MultiheadAttentionImpl : public torch::nn::Module {
 public:
  MultiheadAttentionImpl(int64_t dim, int64_t numHeads);
  at::Tensor forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                     const at::Tensor& attnMask = {});

 private:
  int64_t dim_, numHeads_;
  at::Tensor inProjWeight_, inProjBias_;
  torch::nn::Linear outProj_{nullptr};
};
TORCH_MODULE(MultiheadAttention);

// detrex's MultiheadAttention wrapper: holds the attention as `attn` and adds the residual.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t dim, int64_t numHeads);
  // x + attn(x + pos, x + pos, x)
  at::Tensor forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& attnMask);

 private:
  MultiheadAttention attn_{nullptr};
};
TORCH_MODULE(SelfAttention);

// xavier_uniform_ on every parameter with more than one dimension (detrex init_weights).
void xavierInitMatrices(torch::nn::Module& module);

}  // namespace adetr::model
