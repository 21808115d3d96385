// The matching cost of one image block (docs/numerical-contract.md §C.1 and §C.3), in float64 on host buffers.
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/arg_error.h"
#include "ops/box/box_ops.h"
#include "train/matcher.h"

namespace adetr::train {

namespace {

// A cxcywh box of a host buffer as corners.
inline ops::BoxCorners<double> corners(const double* b) { return ops::cornersFromCxcywh(b[0], b[1], b[2], b[3]); }

inline double powGamma(double x, double gamma) { return gamma == 2.0 ? x * x : std::pow(x, gamma); }

// Focal class cost at probability p: α(1−p)^γ(−log(p+ε)) − (1−α)p^γ(−log(1−p+ε)).
inline double focalCost(double p, double alpha, double gamma) {
  const double pos = alpha * powGamma(1.0 - p, gamma) * -std::log(p + 1e-8);
  const double neg = (1.0 - alpha) * powGamma(p, gamma) * -std::log(1.0 - p + 1e-8);
  return pos - neg;
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

namespace detail {

void checkMatcherCosts(const MatcherCosts& c) {
  checkRange(std::isfinite(c.classWeight) && std::isfinite(c.bboxWeight) && std::isfinite(c.giouWeight),
             "costs: weights must be finite, got class ", c.classWeight, ", bbox ", c.bboxWeight, ", giou ",
             c.giouWeight);
  checkRange(c.focalAlpha >= 0.0 && c.focalAlpha <= 1.0, "costs.focalAlpha: must be in [0, 1], got ", c.focalAlpha);
  checkRange(c.focalGamma >= 0.0 && std::isfinite(c.focalGamma), "costs.focalGamma: must be finite and >= 0, got ",
             c.focalGamma);
}

at::Tensor focalClassCost(const at::Tensor& logits, const MatcherCosts& c) {
  // Vectorized ATen ops: the logarithms dominate the cost build when done one pair at a time.
  auto p = logits.to(at::kDouble).sigmoid();
  auto q = 1.0 - p;
  auto pos = (c.focalGamma == 2.0 ? q * q : q.pow(c.focalGamma)).mul_(c.focalAlpha).mul_((p + 1e-8).log_().neg_());
  auto neg =
      (c.focalGamma == 2.0 ? p * p : p.pow(c.focalGamma)).mul_(1.0 - c.focalAlpha).mul_(q.add_(1e-8).log_().neg_());
  return pos.sub_(neg);
}

bool fillCostBlock(const double* classInput, int64_t classStride, const int64_t* classColumn, const double* predBoxes,
                   const double* gtBoxes, int64_t queries, int64_t gts, int64_t copies, const MatcherCosts& c,
                   double* out) {
  const int64_t width = copies * gts;
  std::vector<ops::BoxCorners<double>> gtCorners(gts);
  for (int64_t j = 0; j < gts; ++j) gtCorners[j] = corners(gtBoxes + 4 * j);

  // Pass 1: GIoU into the first copy's columns (the modulated cost needs the block's max first).
  double maxUnit = -1.0;  // max of u = (GIoU + 1) / 2
  for (int64_t i = 0; i < queries; ++i) {
    const ops::BoxCorners<double> pred = corners(predBoxes + 4 * i);
    double* row = out + i * width;
    for (int64_t j = 0; j < gts; ++j) {
      row[j] = ops::iouAndGiou(pred, gtCorners[j]).giou;
      maxUnit = std::max(maxUnit, 0.5 * (row[j] + 1.0));
    }
  }
  // Stable-DINO rescales u01 so that the block's maximum is 1 (never scaling down).
  const double unitScale = std::max(1.0 / (maxUnit + 1e-8), 1.0);
  const double giouOffset = c.positionModulated ? 1.0 : 0.0;

  // Pass 2: the full cost, then the copies.
  bool finite = true;
  for (int64_t i = 0; i < queries; ++i) {
    const double* b = predBoxes + 4 * i;
    const double* classRow = classInput + i * classStride;
    double* row = out + i * width;
    for (int64_t j = 0; j < gts; ++j) {
      const double giou = row[j];
      double classCost = classRow[classColumn[j]];
      if (c.positionModulated) {
        // Per (query, GT) pair, as the Stable-DINO paper writes it: this GT's own u_ij, even when
        // other GTs share its class (the released code's U[:, tgt_ids] keeps one u per class
        // column batch-wide; see matcher.h).
        const double p = sigmoid(classCost) * std::sqrt(0.5 * (giou + 1.0) * unitScale);
        classCost = focalCost(p, c.focalAlpha, c.focalGamma);
      }
      const double* g = gtBoxes + 4 * j;
      const double l1 = std::abs(b[0] - g[0]) + std::abs(b[1] - g[1]) + std::abs(b[2] - g[2]) + std::abs(b[3] - g[3]);
      const double cost = c.bboxWeight * l1 + c.classWeight * classCost + c.giouWeight * (giouOffset - giou);
      finite = finite && std::isfinite(cost);
      row[j] = cost;
    }
    for (int64_t copy = 1; copy < copies; ++copy) std::copy(row, row + gts, row + copy * gts);
  }
  return finite;
}

}  // namespace detail

at::Tensor imageMatchingCost(const at::Tensor& logits, const at::Tensor& boxes, const model::Target& target,
                             const MatcherCosts& costs) {
  at::NoGradGuard noGrad;
  detail::checkMatcherCosts(costs);
  checkType(logits.defined() && logits.dim() == 2 && logits.is_floating_point(),
            "logits: expected a floating [Q, C] tensor");
  checkType(boxes.defined() && boxes.dim() == 2 && boxes.size(1) == 4 && boxes.is_floating_point(),
            "boxes: expected a floating [Q, 4] tensor");
  checkRange(boxes.size(0) == logits.size(0), "boxes: expected ", logits.size(0), " rows like logits, got ",
             boxes.size(0));
  checkType(target.labels.defined() && target.labels.dim() == 1 && !target.labels.is_floating_point() &&
                !target.labels.is_complex(),
            "target.labels: expected an integer [G] tensor");
  const int64_t q = logits.size(0), classes = logits.size(1), g = target.labels.size(0);
  checkType(target.boxes.defined() && target.boxes.dim() == 2 && target.boxes.size(0) == g &&
                target.boxes.size(1) == 4 && target.boxes.is_floating_point(),
            "target.boxes: expected a floating [", g, ", 4] tensor");
  auto labels = target.labels.to(at::kCPU, at::kLong).contiguous();
  if (g > 0) {
    const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    checkRange(lo >= 0 && hi < classes, "target.labels: classes must be in [0, ", classes, "), got [", lo, ", ", hi,
               "]");
  }
  auto classInput = logits.detach().index_select(1, labels.to(logits.device())).to(at::kDouble);
  if (!costs.positionModulated) classInput = detail::focalClassCost(classInput, costs);
  classInput = classInput.to(at::kCPU).contiguous();
  auto pred = boxes.detach().to(at::kCPU, at::kDouble).contiguous();
  auto gt = target.boxes.detach().to(at::kCPU, at::kDouble).contiguous();
  auto out = at::empty({q, g}, at::TensorOptions().dtype(at::kDouble));
  if (q > 0 && g > 0) {
    std::vector<int64_t> column(g);
    std::iota(column.begin(), column.end(), 0);
    detail::fillCostBlock(classInput.data_ptr<double>(), g, column.data(), pred.data_ptr<double>(),
                          gt.data_ptr<double>(), q, g, 1, costs, out.data_ptr<double>());
  }
  return out;
}

}  // namespace adetr::train
