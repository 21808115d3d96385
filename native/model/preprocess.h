// Image preprocessing: the one implementation behind both training and inference. The data
// pipeline's resizes and its batching (through the binding) and predict() all call these, so a
// model sees identically prepared pixels at training and at test time.
//
// Images are uint8 RGB [H, W, 3] (HWC), as decoded. A resize returns uint8 again (rounded, as
// detectron2's PIL-based ResizeShortestEdge does), so a resized image can be cropped, flipped
// or cached before batching, and normalisation happens once, at batching.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <utility>
#include <vector>

#include "model/dino.h"

namespace adetr::model {

// An RGB image, uint8 [H, W, 3] (HWC).
using RgbImage = at::Tensor;

// Per-channel mean and std of RGB values in 0..255 (the ImageNet statistics every DETR-family
// recipe normalises with; docs/numerical-contract.md §A.1).
inline constexpr std::array<double, 3> kPixelMean{123.675, 116.280, 103.530};
inline constexpr std::array<double, 3> kPixelStd{58.395, 57.120, 57.375};

// ResizeShortestEdge size: scale the short side to `shortEdge` unless the long side would
// exceed `maxSize`; detectron2 rounds with int(x + 0.5). Returns (newH, newW).
std::pair<int64_t, int64_t> resizeShortestEdgeSize(int64_t h, int64_t w, int64_t shortEdge, int64_t maxSize);

// Bilinear resize to newH × newW, antialiased when shrinking (a plain triangle filter when
// enlarging), rounded to uint8. Returns a contiguous [newH, newW, 3] uint8 image; the same
// image when the size is unchanged. `name` prefixes error messages.
RgbImage resizeImage(const RgbImage& image, int64_t newH, int64_t newW, const std::string& name = "image");

// Normalises each image ((v − mean) / std, float32) and zero-pads them bottom-right into one
// [B, 3, H, W] batch; validSizes holds each image's (h, w).
ImageBatch normalizeAndPad(const std::vector<RgbImage>& images);

struct PreprocessOptions {
  bool resize = true;       // false: each image at its own size
  int64_t shortEdge = 800;  // the model's test size (config.testShortEdge)
  int64_t maxSize = 1333;   // config.testMaxSize
};

// The test-time path: ResizeShortestEdge(shortEdge, maxSize) each image (unless
// !options.resize), then normalizeAndPad.
ImageBatch prepareBatch(const std::vector<RgbImage>& images, const PreprocessOptions& options);

}  // namespace adetr::model
