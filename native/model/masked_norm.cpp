#include "model/masked_norm.h"

#include <ATen/ops/group_norm.h>
#include <ATen/ops/rsqrt.h>

namespace adetr::model {

at::Tensor maskedGroupNorm(const at::Tensor& y, const at::Tensor& mask, int64_t groups, const at::Tensor& weight,
                           const at::Tensor& bias, double eps) {
  if (!mask.defined()) return at::group_norm(y, groups, weight, bias, eps);
  const int64_t b = y.size(0), c = y.size(1), h = y.size(2), w = y.size(3);
  auto yg = y.reshape({b, groups, c / groups, h * w});
  auto m = mask.reshape({b, 1, 1, h * w});
  auto count = m.sum({2, 3}, true) * (c / groups);
  auto mean = (yg * m).sum({2, 3}, true) / count;
  auto centered = (yg - mean) * m;
  auto var = centered.pow(2).sum({2, 3}, true) / count;
  auto normed = (centered * at::rsqrt(var + eps)).view({b, c, h, w});
  return (normed * weight.view({1, c, 1, 1}) + bias.view({1, c, 1, 1})) * mask;
}

}  // namespace adetr::model
