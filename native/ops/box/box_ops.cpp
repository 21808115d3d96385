#include "ops/box/box_ops.h"

#include <ATen/ops/clamp.h>
#include <ATen/ops/log.h>
#include <ATen/ops/max.h>
#include <ATen/ops/min.h>
#include <ATen/ops/stack.h>

namespace adetr::ops {

at::Tensor boxCxcywhToXyxy(const at::Tensor& boxes) {
  auto parts = boxes.unbind(-1);
  const auto& cx = parts[0];
  const auto& cy = parts[1];
  auto hw = parts[2] * 0.5;
  auto hh = parts[3] * 0.5;
  return at::stack({cx - hw, cy - hh, cx + hw, cy + hh}, -1);
}

at::Tensor boxXyxyToCxcywh(const at::Tensor& boxes) {
  auto parts = boxes.unbind(-1);
  return at::stack({(parts[0] + parts[2]) * 0.5, (parts[1] + parts[3]) * 0.5, parts[2] - parts[0], parts[3] - parts[1]}, -1);
}

at::Tensor inverseSigmoid(const at::Tensor& x, double eps) {
  auto y = x.clamp(0, 1);
  auto x1 = y.clamp_min(eps);
  auto x2 = (1 - y).clamp_min(eps);
  return at::log(x1 / x2);
}

std::pair<at::Tensor, at::Tensor> boxIouAndUnion(const at::Tensor& a, const at::Tensor& b) {
  auto areaA = (a.select(-1, 2) - a.select(-1, 0)) * (a.select(-1, 3) - a.select(-1, 1));
  auto areaB = (b.select(-1, 2) - b.select(-1, 0)) * (b.select(-1, 3) - b.select(-1, 1));
  auto lt = at::max(a.unsqueeze(1).narrow(-1, 0, 2), b.unsqueeze(0).narrow(-1, 0, 2));
  auto rb = at::min(a.unsqueeze(1).narrow(-1, 2, 2), b.unsqueeze(0).narrow(-1, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto inter = wh.select(-1, 0) * wh.select(-1, 1);
  auto uni = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
  return {inter / uni, uni};
}

at::Tensor generalizedBoxIou(const at::Tensor& a, const at::Tensor& b) {
  auto [iou, uni] = boxIouAndUnion(a, b);
  auto lt = at::min(a.unsqueeze(1).narrow(-1, 0, 2), b.unsqueeze(0).narrow(-1, 0, 2));
  auto rb = at::max(a.unsqueeze(1).narrow(-1, 2, 2), b.unsqueeze(0).narrow(-1, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto area = wh.select(-1, 0) * wh.select(-1, 1);
  return iou - (area - uni) / area;
}

}  // namespace adetr::ops
