#include "model/position_encoding.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cos.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/stack.h>

#include <cmath>

namespace adetr::model {

namespace {

constexpr double kTwoPi = 2.0 * M_PI;
constexpr double kTemperature = 10000.0;

// 10000^(2·floor(i/2)/n) for i = 0..n-1.
at::Tensor frequencies(int64_t n, const at::TensorOptions& options) {
  auto i = at::arange(n, options);
  return at::pow(kTemperature, 2 * i.div(2, "floor") / static_cast<double>(n));
}

// [..., n] angles → interleaved [sin(a0), cos(a1), sin(a2), cos(a3), ...].
at::Tensor interleaveSinCos(const at::Tensor& angles) {
  const int64_t n = angles.size(-1);
  auto evens = at::sin(angles.slice(-1, 0, n, 2));
  auto odds = at::cos(angles.slice(-1, 1, n, 2));
  return at::stack({evens, odds}, -1).flatten(-2);
}

}  // namespace

at::Tensor sineMapEncoding(const at::Tensor& paddingMask, int64_t numPosFeats, const at::TensorOptions& options) {
  auto notMask = paddingMask.logical_not().to(options.dtype());
  auto ny = notMask.cumsum(1);
  auto nx = notMask.cumsum(2);
  const double eps = 1e-6;
  const int64_t h = paddingMask.size(1), w = paddingMask.size(2);
  auto y = (ny - 0.5) / (ny.narrow(1, h - 1, 1) + eps) * kTwoPi;
  auto x = (nx - 0.5) / (nx.narrow(2, w - 1, 1) + eps) * kTwoPi;
  auto dimT = frequencies(numPosFeats, options);
  auto posX = interleaveSinCos(x.unsqueeze(-1) / dimT);  // [B, H, W, n]
  auto posY = interleaveSinCos(y.unsqueeze(-1) / dimT);
  return at::cat({posY, posX}, -1).permute({0, 3, 1, 2});
}

at::Tensor sineBoxEncoding(const at::Tensor& boxes, int64_t numPosFeats) {
  auto dimT = frequencies(numPosFeats, boxes.options());
  auto enc = [&](int64_t coord) { return interleaveSinCos(boxes.select(-1, coord).unsqueeze(-1) * kTwoPi / dimT); };
  return at::cat({enc(1), enc(0), enc(2), enc(3)}, -1);
}

}  // namespace adetr::model
