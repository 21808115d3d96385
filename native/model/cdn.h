// Contrastive denoising queries (docs/numerical-contract.md §A.12): noised copies of the ground truth fed to the
// decoder in training, with the self-attention mask that keeps them from leaking answers.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <torch/nn/modules/embedding.h>

#include <c10/util/Optional.h>

#include <cstdint>

#include <optional>
#include <vector>

namespace adetr::model {

// One image's ground truth: labels int64 [G] (0..C-1) and boxes float [G, 4] (cx, cy, w, h),
// normalised by the unpadded image size.
struct Target {
  at::Tensor labels;
  at::Tensor boxes;
  // When every image of a batch has one, its denoising noise comes from a generator of its own
  // seeded with it, so an image's queries do not depend on the rest of the batch (data
  // parallelism splits a batch over processes).
  std::optional<uint64_t> noiseSeed;
  // The sample's id in its dataset (the trainer derives noiseSeed from it with per-sample noise).
  std::optional<int64_t> sampleId;
};

struct DenoisingQueries {
  at::Tensor content;     // [B, padSize, d]: label embeddings of the noised labels (0 in empty slots)
  at::Tensor reference;   // [B, padSize, 4]: inverse-sigmoid of the noised boxes (0 in empty slots)
  at::Tensor attnMask;    // [padSize + Q, padSize + Q] bool, true = may not attend
  int64_t maxGt = 0;      // G_max: slots per copy
  int64_t numGroups = 0;  // ng: each group has a positive and a negative copy
  int64_t padSize() const { return 2 * maxGt * numGroups; }
};

struct DenoisingOptions {
  int64_t dnNumber = 100;
  double labelNoiseRatio = 0.5;
  double boxNoiseScale = 1.0;
  int64_t numClasses = 80;
  int64_t numQueries = 900;
  // The layout's G_max when larger than the batch's own: the largest over every process's
  // batch, so that each process builds the queries one process with the whole batch would.
  int64_t maxGtAtLeast = 0;
};

// Builds the denoising queries; nullopt when there is no GT in the batch (or dnNumber is 0).
// The noise comes from `generator`, or per image from Target::noiseSeed when every image has one.
std::optional<DenoisingQueries> makeDenoisingQueries(const std::vector<Target>& targets,
                                                     const DenoisingOptions& options,
                                                     torch::nn::Embedding& labelEmbedding,
                                                     c10::optional<at::Generator> generator = c10::nullopt);

// The mask alone, for a given layout (exposed for tests).
at::Tensor denoisingAttnMask(int64_t maxGt, int64_t numGroups, int64_t numQueries);

}  // namespace adetr::model
