// Deformable encoder and decoder stacks (docs/numerical-contract.md §A.6, §A.8), post-norm, detrex key layout:
// {encoder,decoder}.layers.{i}.attentions.{j} / ffns.0 / norms.{k}, decoder.ref_point_head,
// decoder.norm.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <utility>
#include <vector>

#include "model/deformable_attention.h"
#include "model/layers.h"
#include "model/memory_fusion.h"

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
  // `denseFusion`: the output is Stable-DINO's dense fusion of the input and every layer's
  // output (memory_fusion.h, module `fusion_layer`) instead of the last layer's output.
  EncoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
              bool denseFusion = false);
  // The memory [B, S, d] the two-stage selection and the decoder read.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& pos, const at::Tensor& reference,
                     const MultiScaleValue& ms);

 private:
  torch::nn::ModuleList layers_;
  DenseMemoryFusion fusion_{nullptr};
};
TORCH_MODULE(Encoder);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim);
  // x [B, T, d], queryPos [B, T, d], reference [B, T, L, 4], attnMask [T, T] bool or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& reference,
                     const at::Tensor& attnMask, const MultiScaleValue& memory);

 protected:
  // The layer's two halves: norms.0(x + self-attention), and norms.2(FFN(norms.1(MSDA))).
  at::Tensor selfAttend(const at::Tensor& x, const at::Tensor& queryPos, const at::Tensor& attnMask);
  at::Tensor crossAndFfn(const at::Tensor& y, const at::Tensor& queryPos, const at::Tensor& reference,
                         const MultiScaleValue& memory);

 private:
  SelfAttention selfAttn_{nullptr};
  DeformableAttention crossAttn_{nullptr};
  FFN ffn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The decoupled decoder's self-attention mask over [cls_1..cls_T, loc_1..loc_T]: DINO's [T, T]
// mask A tiled [[A, A], [A, A]] (a token sees both streams of exactly the queries A lets its own
// query see); undefined stays undefined.
at::Tensor decoupledAttnMask(const at::Tensor& attnMask);

// The SD-DETR-style decoupled decoder layer (docs/neighbour-methods.md §2.6 stage A, "DFL"; a
// [PROPOSAL] there, since SD-DETR has no public code and is built on Conditional DETR). Each
// query has a classification content q_cls and a localisation content q_loc. The layer:
//   1. the shared self-attention (DINO's attentions.0 and norms.0, same weights) over the 2T
//      tokens [cls_1..cls_T, loc_1..loc_T], q = k = x + query_pos (the same query_pos for both
//      halves) and the DN mask tiled [[A, A], [A, A]];
//   2. split: the cls half goes through DINO's attentions.1 (MSDA), norms.1, ffns.0, norms.2;
//      the loc half through its own loc_cross_attn (MSDA on the same memory and reference),
//      loc_norms.0, loc_ffn, loc_norms.1.
// DINO's keys therefore belong to the cls stream; the new keys are loc_cross_attn.*,
// loc_norms.{0,1}.*, loc_ffn.* (inner names as ffns.0).
class DecoupledDecoderLayerImpl : public DecoderLayerImpl {
 public:
  DecoupledDecoderLayerImpl(int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim);
  // xCls, xLoc [B, T, d]; queryPos [B, T, d]; reference [B, T, L, 4]; attnMask2 [2T, 2T] bool
  // (the tiled DN mask) or undefined. Returns the new (cls, loc) contents.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& xCls, const at::Tensor& xLoc, const at::Tensor& queryPos,
                                            const at::Tensor& reference, const at::Tensor& attnMask2,
                                            const MultiScaleValue& memory);

 private:
  DeformableAttention locCrossAttn_{nullptr};
  FFN locFfn_{nullptr};
  torch::nn::LayerNorm locNorm1_{nullptr}, locNorm2_{nullptr};
};
TORCH_MODULE(DecoupledDecoderLayer);

// What the decoder returns: per layer, the normed states and the refined references (the
// latter not detached: look-forward-twice).
struct DecoderOutput {
  std::vector<at::Tensor> states;      // [B, T, d] each (decoupled decoder: the cls stream, decoder.norm)
  std::vector<at::Tensor> references;  // [B, T, 4] each, sigmoid space
  std::vector<at::Tensor> locStates;   // decoupled decoder only: the loc stream, decoder.norm_loc; else empty
  // What the layer's box head reads: the loc stream when there is one.
  const at::Tensor& boxStates(size_t layer) const { return locStates.empty() ? states[layer] : locStates[layer]; }
};

class DecoderImpl : public torch::nn::Module {
 public:
  // `padInvariant`: encode the query position from the reference relative to the unpadded image
  // (what detrex computes for an image without padding) instead of the padded-batch-relative one.
  // `decoupled`: DecoupledDecoderLayer layers and a second output norm `norm_loc` for the loc
  // stream (docs/neighbour-methods.md §2.6 stage A); otherwise DINO's decoder, with nothing more built.
  DecoderImpl(int64_t numLayers, int64_t dim, int64_t heads, int64_t levels, int64_t points, int64_t ffnDim,
              bool padInvariant, bool decoupled = false);

  // target [B, T, d]; reference [B, T, 4] (sigmoid space, detached); validRatios [B, L, 2];
  // bboxEmbed: the per-layer box heads used to refine the references. `targetLoc` [B, T, d]: the
  // initial loc contents, required by (and only by) the decoupled decoder; the references are
  // then refined from the loc stream.
  DecoderOutput forward(const at::Tensor& target, const at::Tensor& reference, const at::Tensor& validRatios,
                        const at::Tensor& attnMask, const MultiScaleValue& memory, std::vector<MLP>& bboxEmbed,
                        const at::Tensor& targetLoc = {});

  bool decoupled() const { return decoupled_; }

 private:
  int64_t dim_;
  bool padInvariant_;
  bool decoupled_;
  torch::nn::ModuleList layers_;
  MLP refPointHead_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::LayerNorm normLoc_{nullptr};  // decoupled only
};
TORCH_MODULE(Decoder);

}  // namespace adetr::model
