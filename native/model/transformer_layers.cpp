#include "model/transformer_layers.h"

#include <ATen/ops/cat.h>

#include <tuple>

#include "common/arg_error.h"
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

EncoderImpl::EncoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
                         bool denseFusion) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < numLayers; ++i) layers_->push_back(EncoderLayer(dim, heads, levels, points, ffnDim));
  // Constructed after the layers, so a model without fusion draws exactly the same initial values.
  if (denseFusion) fusion_ = register_module("fusion_layer", DenseMemoryFusion(dim, numLayers + 1));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference,
                                const MultiScaleValue& ms) {
  std::vector<at::Tensor> fused;  // x_0 … x_L, collected only when fusing
  if (fusion_) fused.push_back(x);
  at::Tensor y = x;
  for (size_t i = 0; i < layers_->size(); ++i) {
    y = layers_->ptr<EncoderLayerImpl>(i)->forward(y, pos, reference, ms);
    if (fusion_) fused.push_back(y);
  }
  return fusion_ ? fusion_->forward(fused) : y;
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

at::Tensor DecoderLayerImpl::selfAttend(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& attnMask) {
  return norm1_->forward(selfAttn_->forward(x, queryPos, attnMask));
}

at::Tensor DecoderLayerImpl::crossAndFfn(const at::Tensor& y, const at::Tensor& queryPos, const at::Tensor& reference,
                                         const MultiScaleValue& memory) {
  auto z = norm2_->forward(crossAttn_->forward(y, queryPos, reference, memory));
  return norm3_->forward(ffn_->forward(z));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& reference,
                                     const at::Tensor& attnMask, const MultiScaleValue& memory) {
  return crossAndFfn(selfAttend(x, queryPos, attnMask), queryPos, reference, memory);
}

at::Tensor decoupledAttnMask(const at::Tensor& attnMask) {
  return attnMask.defined() ? attnMask.repeat({2, 2}) : at::Tensor();
}

// docs/neighbour-methods.md §2.6 stage A [PROPOSAL]: the loc stream's own modules, registered after
// DINO's (which DecoderLayerImpl registers and which serve the shared self-attention and the cls
// stream). Only a decoupled decoder builds this class, so a DINO model draws nothing more.
DecoupledDecoderLayerImpl::DecoupledDecoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points,
                                                     int64_t ffnDim)
    : DecoderLayerImpl(dim, heads, levels, points, ffnDim) {
  locCrossAttn_ = register_module("loc_cross_attn", DeformableAttention(dim, heads, levels, points));
  auto norms = register_module("loc_norms", torch::nn::ModuleList());
  locNorm1_ = layerNorm(dim);
  locNorm2_ = layerNorm(dim);
  norms->push_back(locNorm1_);
  norms->push_back(locNorm2_);
  locFfn_ = register_module("loc_ffn", FFN(dim, ffnDim));
}

std::pair<at::Tensor, at::Tensor> DecoupledDecoderLayerImpl::forward(const at::Tensor& xCls, const at::Tensor& xLoc,
                                                                     const at::Tensor& queryPos,
                                                                     const at::Tensor& reference,
                                                                     const at::Tensor& attnMask2,
                                                                     const MultiScaleValue& memory) {
  const int64_t t = xCls.size(1);
  // Shared self-attention over the 2T tokens: both halves carry the query's position.
  auto y = selfAttend(at::cat({xCls, xLoc}, 1), at::cat({queryPos, queryPos}, 1), attnMask2);
  auto cls = crossAndFfn(y.slice(1, 0, t), queryPos, reference, memory);
  auto loc = locNorm1_->forward(locCrossAttn_->forward(y.slice(1, t, 2 * t), queryPos, reference, memory));
  loc = locNorm2_->forward(locFfn_->forward(loc));
  return {cls, loc};
}

DecoderImpl::DecoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
                         bool padInvariant, bool decoupled)
    : dim_(dim), padInvariant_(padInvariant), decoupled_(decoupled) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < numLayers; ++i) {
    if (decoupled)
      layers_->push_back(DecoupledDecoderLayer(dim, heads, levels, points, ffnDim));
    else
      layers_->push_back(DecoderLayer(dim, heads, levels, points, ffnDim));
  }
  refPointHead_ = register_module("ref_point_head", MLP(2 * dim, dim, dim, 2));
  norm_ = register_module("norm", layerNorm(dim));
  if (decoupled) normLoc_ = register_module("norm_loc", layerNorm(dim));
}

DecoderOutput DecoderImpl::forward(const at::Tensor& target, const at::Tensor& reference, const at::Tensor& validRatios,
                                   const at::Tensor& attnMask, const MultiScaleValue& memory,
                                   std::vector<MLP>& bboxEmbed, const at::Tensor& targetLoc) {
  checkType(targetLoc.defined() == decoupled_, decoupled_ ? "targetLoc: required by the decoupled decoder"
                                                          : "targetLoc: only the decoupled decoder has a loc stream");
  DecoderOutput out;
  at::Tensor x = target;
  at::Tensor xLoc = targetLoc;  // decoupled only
  at::Tensor ref = reference;
  auto ratios4 = at::cat({validRatios, validRatios}, -1).unsqueeze(1);  // [B, 1, L, 4]
  // The decoupled self-attention runs over [cls; loc]: the DN mask A becomes [[A, A], [A, A]].
  const at::Tensor attnMask2 = decoupled_ ? decoupledAttnMask(attnMask) : at::Tensor();
  for (size_t i = 0; i < layers_->size(); ++i) {
    auto refInput = ref.unsqueeze(2) * ratios4;  // [B, T, L, 4]
    auto querySine = sineBoxEncoding(padInvariant_ ? ref : refInput.select(2, 0), dim_ / 2);
    auto queryPos = refPointHead_->forward(querySine);
    if (decoupled_) {
      std::tie(x, xLoc) =
          layers_->ptr<DecoupledDecoderLayerImpl>(i)->forward(x, xLoc, queryPos, refInput, attnMask2, memory);
    } else {
      x = layers_->ptr<DecoderLayerImpl>(i)->forward(x, queryPos, refInput, attnMask, memory);
    }
    // Refinement uses the un-normed output of the box stream (the loc stream when decoupled); the
    // stored states are normed (docs/numerical-contract.md §A.8 steps 6-7).
    const at::Tensor& boxStream = decoupled_ ? xLoc : x;
    auto newRef = (bboxEmbed[i]->forward(boxStream) + ops::inverseSigmoid(ref)).sigmoid();
    out.states.push_back(norm_->forward(x));
    if (decoupled_) out.locStates.push_back(normLoc_->forward(xLoc));
    out.references.push_back(newRef);
    ref = newRef.detach();
  }
  return out;
}

}  // namespace adetr::model
