#include "model/masking.h"

#include <ATen/ops/arange.h>

namespace adetr::model {

at::Tensor validSizesAt(const at::Tensor& validSizes, int64_t halvings) {
  const int64_t factor = int64_t{1} << halvings;
  return (validSizes + (factor - 1)).div(factor, "floor");
}

at::Tensor paddingMask(const at::Tensor& validSizes, int64_t height, int64_t width) {
  auto rows = at::arange(height, validSizes.options()).view({1, height, 1});
  auto cols = at::arange(width, validSizes.options()).view({1, 1, width});
  auto h = validSizes.select(1, 0).view({-1, 1, 1});
  auto w = validSizes.select(1, 1).view({-1, 1, 1});
  return (rows >= h).logical_or(cols >= w);
}

at::Tensor validMask(const at::Tensor& validSizes, int64_t height, int64_t width, const at::TensorOptions& options) {
  return paddingMask(validSizes, height, width).logical_not().unsqueeze(1).to(options.dtype());
}

}  // namespace adetr::model
