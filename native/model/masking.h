// Padding masks at every resolution of the network.
//
// A batch holds images of different sizes zero-padded to the largest; `validSizes` [B, 2]
// (int64, rows = (h, w)) gives each image's unpadded size. Every stride-2 layer of the ResNet
// (and the neck's extra level) maps a size s to ceil(s / 2), so the valid region at stride 2^k
// is ceil(s / 2^k): these helpers build masks from that exact arithmetic.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>

namespace adetr::model {

// Valid sizes after `halvings` stride-2 layers: ceil(s / 2^halvings).
at::Tensor validSizesAt(const at::Tensor& validSizes, int64_t halvings);

// Float mask [B, 1, H, W]: 1 inside each image's valid region, 0 in its padding.
at::Tensor validMask(const at::Tensor& validSizes, int64_t height, int64_t width, const at::TensorOptions& options);

// Bool padding mask [B, H, W]: true on padding (the transformer's convention).
at::Tensor paddingMask(const at::Tensor& validSizes, int64_t height, int64_t width);

}  // namespace adetr::model
