// GroupNorm whose statistics come from the valid (unpadded) positions only, so a padded image
// is normalised exactly as the image alone. Used by the neck and by GroupNorm backbones.
#pragma once

#include <ATen/core/Tensor.h>

namespace adetr::model {

// y [B, C, H, W]; mask float [B, 1, H, W] (1 = valid) or undefined (plain GroupNorm);
// weight / bias [C]. The padding of the result is zero when a mask is given.
at::Tensor maskedGroupNorm(const at::Tensor& y, const at::Tensor& mask, int64_t groups, const at::Tensor& weight,
                           const at::Tensor& bias, double eps);

}  // namespace adetr::model
