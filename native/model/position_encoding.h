// Sine position encodings (docs/numerical-contract.md §A.4 and §A.9).
#pragma once

#include <ATen/core/Tensor.h>

namespace adetr::model {

// 2-D sine encoding of a feature map from its padding mask [B, H, W] (true = padding):
// normalised cumulative coordinates with offset −0.5 and scale 2π, temperature 10000;
// returns [B, 2·numPosFeats, H, W] = cat(pos_y, pos_x) with interleaved sin/cos channels.
at::Tensor sineMapEncoding(const at::Tensor& paddingMask, int64_t numPosFeats, const at::TensorOptions& options);

// Sine encoding of reference boxes [B, T, 4] (cx, cy, w, h in [0, 1]):
// [B, T, 4·numPosFeats] in the order (cy, cx, w, h) — x and y exchanged, as detrex does.
at::Tensor sineBoxEncoding(const at::Tensor& boxes, int64_t numPosFeats);

}  // namespace adetr::model
