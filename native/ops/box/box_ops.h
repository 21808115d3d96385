// Box conversions and overlaps: the one implementation that the model, the matcher (float64
// scalar loops over host buffers) and the criterion (tensors, with autograd) all use.
// Boxes are (cx, cy, w, h) or (x1, y1, x2, y2); box tensors are [..., 4].
//
// The formulas are written once, as templates over T = double (one box, inline here) or
// T = at::Tensor (one coordinate of many boxes; instantiated in box_ops.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <algorithm>

namespace adetr::ops {

// detrex's epsilon on the two denominators of the generalized IoU:
//   iou = inter / (union + eps),   GIoU = iou − (enclosing − union) / (enclosing + eps).
// The matching cost, the criterion's IoU (its soft targets) and its GIoU loss use it, and so do
// the references of the tests (native/tests/test_matcher.cpp, test_criterion.cpp, test/*.ts).
inline constexpr double kGiouEps = 1e-6;

// The corners of a box (T = double) or of many boxes (T = at::Tensor, one entry per box).
template <typename T>
struct BoxCorners {
  T x0, y0, x1, y1;
};

template <typename T>
struct IouGiou {
  T iou, giou;
};

// Element-wise min, max and max(·, 0) for the two kinds of T.
inline double boxMin(double a, double b) { return std::min(a, b); }
inline double boxMax(double a, double b) { return std::max(a, b); }
inline double clampZero(double a) { return std::max(a, 0.0); }
at::Tensor boxMin(const at::Tensor& a, const at::Tensor& b);
at::Tensor boxMax(const at::Tensor& a, const at::Tensor& b);
at::Tensor clampZero(const at::Tensor& a);

// (cx, cy, w, h) → corners.
template <typename T>
BoxCorners<T> cornersFromCxcywh(const T& cx, const T& cy, const T& w, const T& h) {
  const T hw = w * 0.5;
  const T hh = h * 0.5;
  return {cx - hw, cy - hh, cx + hw, cy + hh};
}

// IoU and GIoU of a and b (element-wise for tensors, which broadcast), with kGiouEps.
template <typename T>
IouGiou<T> iouAndGiou(const BoxCorners<T>& a, const BoxCorners<T>& b) {
  const T areaA = (a.x1 - a.x0) * (a.y1 - a.y0);
  const T areaB = (b.x1 - b.x0) * (b.y1 - b.y0);
  const T inter =
      clampZero(boxMin(a.x1, b.x1) - boxMax(a.x0, b.x0)) * clampZero(boxMin(a.y1, b.y1) - boxMax(a.y0, b.y0));
  const T uni = areaA + areaB - inter;
  const T iou = inter / (uni + kGiouEps);
  const T enclosing =
      clampZero(boxMax(a.x1, b.x1) - boxMin(a.x0, b.x0)) * clampZero(boxMax(a.y1, b.y1) - boxMin(a.y0, b.y0));
  return {iou, iou - (enclosing - uni) / (enclosing + kGiouEps)};
}

at::Tensor boxCxcywhToXyxy(const at::Tensor& boxes);
at::Tensor boxXyxyToCxcywh(const at::Tensor& boxes);

// IoU and GIoU of xyxy boxes a [..., 4] and b [..., 4], element-wise with broadcasting: aligned
// pairs from equal shapes [K, 4] → [K]; every pair from a.unsqueeze(1) [N, 1, 4] and
// b.unsqueeze(0) [1, M, 4] → [N, M]. Differentiable (autograd).
IouGiou<at::Tensor> boxIouGiou(const at::Tensor& a, const at::Tensor& b);

// log(x / (1 - x)) with x clamped to [0, 1] and both terms to at least eps (detrex's
// inverse_sigmoid, eps = 1e-3 by default).
at::Tensor inverseSigmoid(const at::Tensor& x, double eps = 1e-3);

}  // namespace adetr::ops
