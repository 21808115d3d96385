// The DINO-4scale detector (docs/numerical-contract.md §A): backbone → neck → deformable encoder → two-stage query
// selection → decoder with look-forward-twice refinement → per-layer heads. Parameter names
// follow detrex's DINO / AlignDETR state dicts (backbone.*, neck.*, transformer.*,
// class_embed.*, bbox_embed.*, label_enc.*).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <c10/util/Optional.h>

#include <optional>
#include <vector>

#include "model/backbone.h"
#include "model/cdn.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/neck.h"
#include "model/stage_timer.h"
#include "model/transformer_layers.h"

namespace adetr::model {

// A normalised, padded batch: images [B, 3, H, W] (zero in the padding) and the unpadded
// sizes [B, 2] int64 (h, w).
struct ImageBatch {
  at::Tensor images;
  at::Tensor validSizes;
  // Data parallelism: the denoising layout's G_max when larger than this batch's (the largest
  // over every process's batch; see DenoisingOptions::maxGtAtLeast).
  int64_t denoisingMaxGt = 0;
};

// Predictions of one decoder layer (or of the encoder's two-stage proposals).
struct LayerPrediction {
  at::Tensor logits;  // [B, N, C]
  at::Tensor boxes;   // [B, N, 4] (cx, cy, w, h) in [0, 1] of the unpadded image
};

struct DinoOutput {
  std::vector<LayerPrediction> layers;     // matching queries, one per decoder layer (last = final)
  LayerPrediction encoder;                 // the top-Q two-stage proposals (for the encoder loss)
  std::vector<LayerPrediction> denoising;  // DN queries per decoder layer (empty without DN)
  std::optional<DenoisingQueries> dn;      // the DN layout (training with targets only)
  // Intermediates, for tests and diagnostics.
  std::vector<at::Tensor> backboneFeatures;  // res3..res5
  std::vector<at::Tensor> levelFeatures;     // neck outputs, 4 levels
  at::Tensor memory;                         // encoder output [B, S, d] (the fused memory with dense fusion)
  at::Tensor paddingMask;                    // [B, S] bool
  at::Tensor spatialShapes;                  // [L, 2]
  at::Tensor validRatios;                    // [B, L, 2]
  at::Tensor topkIndices;                    // [B, Q] selected tokens
  StageTimings timings;  // wall time of backbone, neck, encoder (with query selection), decoder (with heads)
};

class DinoImpl : public torch::nn::Module {
 public:
  explicit DinoImpl(const DinoConfig& config);

  // Training mode with targets adds the denoising queries; otherwise the plain forward.
  // `syncTimings` waits for the device between stages so that `timings` are real on a GPU.
  DinoOutput forward(const ImageBatch& batch, const std::vector<Target>* targets = nullptr,
                     c10::optional<at::Generator> generator = c10::nullopt, bool syncTimings = false);

  const DinoConfig& config() const { return config_; }

  // Number of parameters (trainable only when `trainableOnly`).
  int64_t numParameters(bool trainableOnly = false) const;

 private:
  DinoConfig config_;
  ResNet backbone_{nullptr};
  ChannelMapper neck_{nullptr};
  // transformer.*
  std::shared_ptr<torch::nn::Module> transformer_;
  Encoder encoder_{nullptr};
  Decoder decoder_{nullptr};
  at::Tensor levelEmbeds_;
  torch::nn::Embedding tgtEmbed_{nullptr};
  torch::nn::Embedding tgtEmbedLoc_{nullptr};  // decoupled decoder only: the matching queries' q_loc
  torch::nn::Linear encOutput_{nullptr};
  torch::nn::LayerNorm encOutputNorm_{nullptr};
  // Heads: index 0..decoderLayers-1 for the decoder, the last for the encoder proposals.
  std::vector<torch::nn::Linear> classEmbed_;
  std::vector<MLP> bboxEmbed_;
  torch::nn::Embedding labelEnc_{nullptr};
};
TORCH_MODULE(Dino);

}  // namespace adetr::model
