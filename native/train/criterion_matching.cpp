// Matching of every output of a step (spec c.1–c.3): per-image cost blocks, k copies of each GT
// column for mixed matching, and one batched exact solve (native/ops/lsa) for all problems.
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cdist.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/log.h>
#include <ATen/ops/sqrt.h>
#include <ATen/ops/tensor.h>

#include <algorithm>
#include <numeric>

#include "common/arg_error.h"
#include "ops/box/box_ops.h"
#include "ops/lsa/lsa.h"
#include "train/criterion.h"

namespace adetr::train {

namespace {

// detrex's pairwise GIoU with eps 1e-6 on both denominators (spec c.1).
at::Tensor pairwiseGiou(const at::Tensor& a, const at::Tensor& b) {
  auto [iouRaw, uni] = ops::boxIouAndUnion(a, b);
  auto inter = iouRaw * uni;
  auto iou = inter / (uni + 1e-6);
  auto lt = at::min(a.unsqueeze(1).narrow(-1, 0, 2), b.unsqueeze(0).narrow(-1, 0, 2));
  auto rb = at::max(a.unsqueeze(1).narrow(-1, 2, 2), b.unsqueeze(0).narrow(-1, 2, 2));
  auto wh = (rb - lt).clamp_min(0);
  auto area = wh.select(-1, 0) * wh.select(-1, 1);
  return iou - (area - uni) / (area + 1e-6);
}

}  // namespace

// The matching cost [Q, G] of one image (float64).
at::Tensor matchingCost(const at::Tensor& logits, const at::Tensor& boxes, const model::Target& target,
                        const CriterionOptions& o) {
  const double alpha = o.classParams.focalAlpha, gamma = o.classParams.gamma;
  auto labels = target.labels.to(at::kLong);
  auto gt = target.boxes.to(at::kDouble);
  auto pred = boxes.to(at::kDouble);
  auto giou = pairwiseGiou(ops::boxCxcywhToXyxy(pred), ops::boxCxcywhToXyxy(gt));  // [Q, G]
  auto p = logits.to(at::kDouble).sigmoid().index_select(1, labels);               // [Q, G]
  if (o.positionModulatedCost) {
    // Stable-DINO, per-pair form (spec c.3): p' = p · sqrt(u / max u), u = (GIoU + 1) / 2.
    auto u = (giou + 1) * 0.5;
    auto scale = 1.0 / (u.max().item<double>() + 1e-8);
    p = p * at::sqrt(u * std::max(scale, 1.0));
  }
  auto pos = alpha * (1 - p).pow(gamma) * (-at::log(p + 1e-8));
  auto neg = (1 - alpha) * p.pow(gamma) * (-at::log(1 - p + 1e-8));
  auto costClass = pos - neg;
  auto costBbox = at::cdist(pred, gt, 1.0);
  auto costGiou = o.positionModulatedCost ? 1 - giou : -giou;
  return o.costBbox * costBbox + o.costClass * costClass + o.costGiou * costGiou;
}

std::vector<std::vector<ImageMatch>> matchOutputs(const std::vector<model::LayerPrediction>& outputs,
                                                  const std::vector<model::Target>& targets,
                                                  const std::vector<int64_t>& ks, const CriterionOptions& o) {
  at::NoGradGuard noGrad;
  checkType(outputs.size() == ks.size(), "ks: expected one k per output");
  const size_t numImages = targets.size();
  struct Problem {
    size_t output, image;
    int64_t gts, copies;
    at::Tensor cost;  // [Q, copies·G] float64, contiguous
  };
  std::vector<Problem> problems;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& out = outputs[i];
    checkType(static_cast<size_t>(out.logits.size(0)) == numImages, "targets: expected one per image");
    const int64_t queries = out.logits.size(1);
    for (size_t b = 0; b < numImages; ++b) {
      const int64_t g = targets[b].labels.size(0);
      if (g == 0) continue;
      // mmdet's rule (spec c.2): k_b = max(1, min(k, Q / G_b)), so each GT copy gets its own query.
      const int64_t copies = std::max<int64_t>(1, std::min<int64_t>(ks[i], queries / g));
      auto cost = matchingCost(out.logits[b].detach(), out.boxes[b].detach(), targets[b], o);
      if (copies > 1) cost = cost.repeat({1, copies});
      problems.push_back({i, b, g, copies, cost.contiguous()});
    }
  }
  std::vector<lsa::CostView> views;
  for (const auto& p : problems) views.push_back({p.cost.data_ptr<double>(), false, p.cost.size(0), p.cost.size(1)});
  std::vector<lsa::Assignment> solved = lsa::solveBatch(views, false);

  auto empty = [] { return at::zeros({0}, at::TensorOptions().dtype(at::kLong)); };
  std::vector<std::vector<ImageMatch>> result(outputs.size(), std::vector<ImageMatch>(numImages, ImageMatch{empty(), empty()}));
  for (size_t k = 0; k < problems.size(); ++k) {
    const auto& p = problems[k];
    const auto& a = solved[k];
    // Pairs sorted by GT (then query), as the mixed matcher returns them (spec c.2 step 3).
    std::vector<std::pair<int64_t, int64_t>> pairs;  // (gt, query)
    for (size_t j = 0; j < a.rowIndices.size(); ++j) pairs.emplace_back(a.colIndices[j] % p.gts, a.rowIndices[j]);
    std::sort(pairs.begin(), pairs.end());
    std::vector<int64_t> queries, gts;
    for (const auto& [g, q] : pairs) {
      gts.push_back(g);
      queries.push_back(q);
    }
    result[p.output][p.image] = {at::tensor(queries, at::kLong), at::tensor(gts, at::kLong)};
  }
  return result;
}

}  // namespace adetr::train
