// Deformable encoder and decoder stacks (spec §a.6, §a.8), post-norm, detrex key layout:
// {encoder,decoder}.layers.{i}.attentions.{j} / ffns.0 / norms.{k}, decoder.ref_point_head,
// decoder.norm.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "model/deformable_attention.h"
#include "model/layers.h"

namespace adetr::model {

class EncoderLayerImpl : public torch::nn::Module {
 public:
  EncoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim);
  // x: [B, S, d] (the flattened memory, also the value), pos: [B, S, d], reference [B, S, L, 2].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference, MultiScaleValue ms);

 private:
  DeformableAttention attn_{nullptr};
  FFN ffn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference, const MultiScaleValue& ms);

 private:
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(Encoder);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim);
  // x [B, T, d], queryPos [B, T, d], reference [B, T, L, 4], attnMask [T, T] bool or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& reference,
                     const at::Tensor& attnMask, const MultiScaleValue& memory);

 private:
  SelfAttention selfAttn_{nullptr};
  DeformableAttention crossAttn_{nullptr};
  FFN ffn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
};
TORCH_MODULE(DecoderLayer);

// What the decoder returns: per layer, the normed states and the refined references (the
// latter not detached: look-forward-twice).
struct DecoderOutput {
  std::vector<at::Tensor> states;      // [B, T, d] each
  std::vector<at::Tensor> references;  // [B, T, 4] each, sigmoid space
};

class DecoderImpl : public torch::nn::Module {
 public:
  // `padInvariant`: encode the query position from the reference relative to the unpadded image
  // (what detrex computes for an image without padding) instead of the padded-batch-relative one.
  DecoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
              bool padInvariant);

  // target [B, T, d]; reference [B, T, 4] (sigmoid space, detached); validRatios [B, L, 2];
  // bboxEmbed: the per-layer box heads used to refine the references.
  DecoderOutput forward(const at::Tensor& target, const at::Tensor& reference, const at::Tensor& validRatios,
                        const at::Tensor& attnMask, const MultiScaleValue& memory, std::vector<MLP>& bboxEmbed);

 private:
  int64_t dim_;
  bool padInvariant_;
  torch::nn::ModuleList layers_;
  MLP refPointHead_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(Decoder);

}  // namespace adetr::model
