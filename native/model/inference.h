// Inference around the detector: the recipe's test-time resize and normalisation, batching
// with padding, and the reference post-processing (docs/numerical-contract.md §A.1, §E test, §F).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "model/dino.h"

namespace adetr::model {

// An RGB image, uint8 [H, W, 3] (HWC), as decoded.
using RgbImage = at::Tensor;

// ResizeShortestEdge size: scale the short side to `shortEdge` unless the long side would
// exceed `maxSize`; detectron2 rounds with int(x + 0.5). Returns (newH, newW).
std::pair<int64_t, int64_t> resizeShortestEdgeSize(int64_t h, int64_t w, int64_t shortEdge, int64_t maxSize);

// Resizes (bilinear, antialiased when shrinking), normalises with the ImageNet mean/std of
// docs/numerical-contract.md §A.1, and zero-pads into one batch. `sizes` receives each resized (h, w).
ImageBatch prepareBatch(const std::vector<RgbImage>& images, int64_t shortEdge, int64_t maxSize);

// Normalises already-sized uint8/float images [3, H, W] (0..255) and pads them into a batch.
ImageBatch padAndNormalize(const std::vector<at::Tensor>& chwImages);

struct Detections {
  at::Tensor boxes;   // [K, 4] float (x, y, w, h) in original pixels, clipped to the image
  at::Tensor scores;  // [K] float
  at::Tensor labels;  // [K] int64 class indices 0..C-1
};

// docs/numerical-contract.md §F: sigmoid scores of the final layer, top-K over queries × classes, boxes scaled from
// the resized input to the original size, clipped, empty boxes dropped; then scores below
// `scoreThreshold` dropped and at most `maxDetections` kept (highest first).
std::vector<Detections> postprocess(const LayerPrediction& last, const at::Tensor& inputSizes,
                                    const at::Tensor& originalSizes, int64_t topK, double scoreThreshold,
                                    int64_t maxDetections);

// The whole inference path: resize and batch `images`, run the model in eval mode without
// autograd, post-process to the original sizes.
std::vector<Detections> predict(Dino& model, const std::vector<RgbImage>& images, double scoreThreshold,
                                int64_t maxDetections);

}  // namespace adetr::model
