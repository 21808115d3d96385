#include "model/transformer_layers.h"

#include <ATen/ops/cat.h>

#include "model/position_encoding.h"
#include "ops/box/box_ops.h"

namespace adetr::model {

namespace {
torch::nn::LayerNorm layerNorm(int64_t dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); }
}  // namespace

EncoderLayerImpl::EncoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim) {
  auto attentions = register_module("attentions", torch::nn::ModuleList());
  attn_ = DeformableAttention(dim, heads, levels, points);
  attentions->push_back(attn_);
  auto ffns = register_module("ffns", torch::nn::ModuleList());
  ffn_ = FFN(dim, ffnDim);
  ffns->push_back(ffn_);
  auto norms = register_module("norms", torch::nn::ModuleList());
  norm1_ = layerNorm(dim);
  norm2_ = layerNorm(dim);
  norms->push_back(norm1_);
  norms->push_back(norm2_);
}

at::Tensor EncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference,
                                     MultiScaleValue ms) {
  ms.value = x;  // self-attention over the memory: the value is the layer input, without pos
  auto y = norm1_->forward(attn_->forward(x, pos, reference, ms));
  return norm2_->forward(ffn_->forward(y));
}

EncoderImpl::EncoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < numLayers; ++i) layers_->push_back(EncoderLayer(dim, heads, levels, points, ffnDim));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference,
                                const MultiScaleValue& ms) {
  at::Tensor y = x;
  for (size_t i = 0; i < layers_->size(); ++i) y = layers_->ptr<EncoderLayerImpl>(i)->forward(y, pos, reference, ms);
  return y;
}

DecoderLayerImpl::DecoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim) {
  auto attentions = register_module("attentions", torch::nn::ModuleList());
  selfAttn_ = SelfAttention(dim, heads);
  crossAttn_ = DeformableAttention(dim, heads, levels, points);
  attentions->push_back(selfAttn_);
  attentions->push_back(crossAttn_);
  auto ffns = register_module("ffns", torch::nn::ModuleList());
  ffn_ = FFN(dim, ffnDim);
  ffns->push_back(ffn_);
  auto norms = register_module("norms", torch::nn::ModuleList());
  norm1_ = layerNorm(dim);
  norm2_ = layerNorm(dim);
  norm3_ = layerNorm(dim);
  norms->push_back(norm1_);
  norms->push_back(norm2_);
  norms->push_back(norm3_);
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& reference,
                                     const at::Tensor& attnMask, const MultiScaleValue& memory) {
  auto y = norm1_->forward(selfAttn_->forward(x, queryPos, attnMask));
  y = norm2_->forward(crossAttn_->forward(y, queryPos, reference, memory));
  return norm3_->forward(ffn_->forward(y));
}

DecoderImpl::DecoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
                         bool padInvariant)
    : dim_(dim), padInvariant_(padInvariant) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < numLayers; ++i) layers_->push_back(DecoderLayer(dim, heads, levels, points, ffnDim));
  refPointHead_ = register_module("ref_point_head", MLP(2 * dim, dim, dim, 2));
  norm_ = register_module("norm", layerNorm(dim));
}

DecoderOutput DecoderImpl::forward(const at::Tensor& target, const at::Tensor& reference, const at::Tensor& validRatios,
                                   const at::Tensor& attnMask, const MultiScaleValue& memory, std::vector<MLP>& bboxEmbed) {
  DecoderOutput out;
  at::Tensor x = target;
  at::Tensor ref = reference;
  auto ratios4 = at::cat({validRatios, validRatios}, -1).unsqueeze(1);  // [B, 1, L, 4]
  for (size_t i = 0; i < layers_->size(); ++i) {
    auto refInput = ref.unsqueeze(2) * ratios4;  // [B, T, L, 4]
    auto querySine = sineBoxEncoding(padInvariant_ ? ref : refInput.select(2, 0), dim_ / 2);
    auto queryPos = refPointHead_->forward(querySine);
    x = layers_->ptr<DecoderLayerImpl>(i)->forward(x, queryPos, refInput, attnMask, memory);
    // Refinement uses the un-normed output; the stored state is normed (spec §a.8 steps 6-7).
    auto newRef = (bboxEmbed[i]->forward(x) + ops::inverseSigmoid(ref)).sigmoid();
    out.states.push_back(norm_->forward(x));
    out.references.push_back(newRef);
    ref = newRef.detach();
  }
  return out;
}

}  // namespace adetr::model
