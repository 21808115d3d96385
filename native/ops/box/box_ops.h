// Box conversions and overlaps used by the model, the matcher and the losses.
// Boxes are [..., 4] tensors, either (cx, cy, w, h) or (x1, y1, x2, y2).
#pragma once

#include <ATen/core/Tensor.h>

namespace adetr::ops {

at::Tensor boxCxcywhToXyxy(const at::Tensor& boxes);
at::Tensor boxXyxyToCxcywh(const at::Tensor& boxes);

// log(x / (1 - x)) with x clamped to [0, 1] and both terms to at least eps (detrex's
// inverse_sigmoid, eps = 1e-3 by default).
at::Tensor inverseSigmoid(const at::Tensor& x, double eps = 1e-3);

// Pairwise IoU and union of xyxy boxes a [N, 4] and b [M, 4]: each [N, M].
std::pair<at::Tensor, at::Tensor> boxIouAndUnion(const at::Tensor& a, const at::Tensor& b);

// Pairwise generalized IoU of xyxy boxes [N, 4] × [M, 4] → [N, M].
at::Tensor generalizedBoxIou(const at::Tensor& a, const at::Tensor& b);

}  // namespace adetr::ops
