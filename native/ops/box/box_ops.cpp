#include "ops/box/box_ops.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/log.h>
#include <ATen/ops/max.h>
#include <ATen/ops/min.h>
#include <ATen/ops/stack.h>

namespace adetr::ops {

at::Tensor boxMin(const at::Tensor& a, const at::Tensor& b) { return at::min(a, b); }
at::Tensor boxMax(const at::Tensor& a, const at::Tensor& b) { return at::max(a, b); }
at::Tensor clampZero(const at::Tensor& a) { return a.clamp_min(0); }

namespace {

BoxCorners<at::Tensor> cornersOfXyxy(const at::Tensor& boxes) {
  auto parts = boxes.unbind(-1);
  return {parts[0], parts[1], parts[2], parts[3]};
}

}  // namespace

at::Tensor boxCxcywhToXyxy(const at::Tensor& boxes) {
  auto parts = boxes.unbind(-1);
  const BoxCorners<at::Tensor> c = cornersFromCxcywh(parts[0], parts[1], parts[2], parts[3]);
  return at::stack({c.x0, c.y0, c.x1, c.y1}, -1);
}

at::Tensor boxXyxyToCxcywh(const at::Tensor& boxes) {
  auto parts = boxes.unbind(-1);
  return at::stack({(parts[0] + parts[2]) * 0.5, (parts[1] + parts[3]) * 0.5, parts[2] - parts[0], parts[3] - parts[1]},
                   -1);
}

IouGiou<at::Tensor> boxIouGiou(const at::Tensor& a, const at::Tensor& b) {
  return iouAndGiou(cornersOfXyxy(a), cornersOfXyxy(b));
}

at::Tensor inverseSigmoid(const at::Tensor& x, double eps) {
  auto y = x.clamp(0, 1);
  auto x1 = y.clamp_min(eps);
  auto x2 = (1 - y).clamp_min(eps);
  return at::log(x1 / x2);
}

}  // namespace adetr::ops
