#include "model/layers.h"

#include <ATen/ops/linear.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/softmax.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

namespace adetr::model {

MLPImpl::MLPImpl(int64_t inDim, int64_t hiddenDim, int64_t outDim, int64_t numLayers) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < numLayers; ++i) {
    const int64_t in = i == 0 ? inDim : hiddenDim;
    const int64_t out = i == numLayers - 1 ? outDim : hiddenDim;
    layers_->push_back(torch::nn::Linear(in, out));
  }
}

at::Tensor MLPImpl::forward(const at::Tensor& x) {
  at::Tensor y = x;
  const size_t n = layers_->size();
  for (size_t i = 0; i < n; ++i) {
    y = layers_->ptr<torch::nn::LinearImpl>(i)->forward(y);
    if (i + 1 < n) y = at::relu(y);
  }
  return y;
}

FFNImpl::FFNImpl(int64_t dim, int64_t hiddenDim) {
  // detrex: layers = Sequential(Sequential(Linear, ReLU, Dropout), Linear, Dropout).
  auto layers = register_module("layers", torch::nn::ModuleList());
  auto first = torch::nn::Sequential();
  fc1_ = torch::nn::Linear(dim, hiddenDim);
  first->push_back("0", fc1_);
  layers->push_back(first);
  fc2_ = torch::nn::Linear(hiddenDim, dim);
  layers->push_back(fc2_);
}

at::Tensor FFNImpl::forward(const at::Tensor& x) { return x + fc2_->forward(at::relu(fc1_->forward(x))); }

MultiheadAttentionImpl::MultiheadAttentionImpl(int64_t dim, int64_t numHeads) : dim_(dim), numHeads_(numHeads) {
  inProjWeight_ = register_parameter("in_proj_weight", at::empty({3 * dim, dim}));
  inProjBias_ = register_parameter("in_proj_bias", at::zeros({3 * dim}));
  outProj_ = register_module("out_proj", torch::nn::Linear(dim, dim));
  torch::nn::init::xavier_uniform_(inProjWeight_);
  torch::nn::init::zeros_(outProj_->bias);
}

at::Tensor MultiheadAttentionImpl::forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                           const at::Tensor& attnMask) {
  const int64_t b = query.size(0), lq = query.size(1), lk = key.size(1);
  const int64_t dh = dim_ / numHeads_;
  auto w = inProjWeight_.chunk(3, 0);
  auto bias = inProjBias_.chunk(3, 0);
  // [B, L, d] → [B, M, L, dh]
  auto heads = [&](const at::Tensor& t, int64_t len) { return t.view({b, len, numHeads_, dh}).transpose(1, 2); };
  auto q = heads(at::linear(query, w[0], bias[0]), lq) * (1.0 / std::sqrt(static_cast<double>(dh)));
  auto k = heads(at::linear(key, w[1], bias[1]), lk);
  auto v = heads(at::linear(value, w[2], bias[2]), lk);
  auto scores = at::matmul(q, k.transpose(-2, -1));  // [B, M, Lq, Lk]
  if (attnMask.defined()) scores = scores.masked_fill(attnMask, -std::numeric_limits<float>::infinity());
  auto out = at::matmul(at::softmax(scores, -1), v);  // [B, M, Lq, dh]
  return outProj_->forward(out.transpose(1, 2).reshape({b, lq, dim_}));
}

SelfAttentionImpl::SelfAttentionImpl(int64_t dim, int64_t numHeads) {
  attn_ = register_module("attn", MultiheadAttention(dim, numHeads));
}

at::Tensor SelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& attnMask) {
  auto qk = x + pos;
  return x + attn_->forward(qk, qk, x, attnMask);
}

void xavierInitMatrices(torch::nn::Module& module) {
  at::NoGradGuard noGrad;
  for (auto& p : module.parameters()) {
    if (p.dim() > 1) torch::nn::init::xavier_uniform_(p);
  }
}

}  // namespace adetr::model
