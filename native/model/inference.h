// Inference around the detector: the recipe's test-time resize and normalisation, batching
// with padding, and the reference post-processing (docs/numerical-contract.md §A.1, §E test, §F).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "model/dino.h"
#include "model/preprocess.h"

namespace adetr::model {

struct Detections {
  at::Tensor boxes;   // [K, 4] float (x, y, w, h) in original pixels, clipped to the image
  at::Tensor scores;  // [K] float
  at::Tensor labels;  // [K] int64 class indices 0..C-1
};

// docs/numerical-contract.md §F: sigmoid scores of the final layer, top-K over queries ×
// classes, boxes scaled from the resized input to the original size, clipped, empty boxes
// dropped; then scores below `scoreThreshold` dropped and at most `maxDetections` kept (highest
// first).
std::vector<Detections> postprocess(const LayerPrediction& last, const at::Tensor& inputSizes,
                                    const at::Tensor& originalSizes, int64_t topK, double scoreThreshold,
                                    int64_t maxDetections);

struct PredictOptions {
  double scoreThreshold = 0;
  std::optional<int64_t> maxDetections;  // unset: the config's selectTopK
  bool resize = true;                    // false: each image at its own size (no ResizeShortestEdge)
};

// The whole inference path: prepare `images` (preprocess.h: resize to the model's test size
// unless !options.resize, normalise, pad), run the model in eval mode without autograd,
// post-process to the original sizes.
std::vector<Detections> predict(Dino& model, const std::vector<RgbImage>& images, const PredictOptions& options);

}  // namespace adetr::model
