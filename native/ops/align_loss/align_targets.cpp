// Align / IA-BCE / SD-align targets and prime-sample ranks (align_targets.h).
#include "ops/align_loss/align_targets.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "common/arg_error.h"

namespace adetr::ops {
namespace {

bool isFloat(const at::Tensor& t) {
  const auto st = t.scalar_type();
  return st == at::kFloat || st == at::kDouble || st == at::kHalf || st == at::kBFloat16;
}

// Rank of each entry within its group by value descending; stable (earlier entry first on ties).
at::Tensor groupRanks(const at::Tensor& groups, const at::Tensor& values) {
  const at::Tensor g = groups.to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor v = values.to(at::kCPU).to(at::kDouble).contiguous();
  const int64_t n = g.numel();
  const int64_t* gp = g.data_ptr<int64_t>();
  const double* vp = v.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    if (gp[a] != gp[b]) return gp[a] < gp[b];
    return vp[a] > vp[b];
  });
  at::Tensor ranks = at::zeros({n}, at::TensorOptions().dtype(at::kLong));
  int64_t* rp = ranks.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cur = order[static_cast<size_t>(i)];
    const bool sameGroup = i > 0 && gp[order[static_cast<size_t>(i - 1)]] == gp[cur];
    rp[cur] = sameGroup ? rp[order[static_cast<size_t>(i - 1)]] + 1 : 0;
  }
  return ranks;
}

}  // namespace

AlignTargets alignTargets(const at::Tensor& prob, const at::Tensor& iou, const at::Tensor& groups, AlignLossKind kind,
                          const AlignTargetParams& params) {
  checkType(prob.defined(), "prob: expected a tensor");
  checkType(iou.defined(), "iou: expected a tensor");
  checkType(groups.defined(), "groups: expected a tensor");
  checkType(isFloat(prob), "prob: dtype must be floating point, got ", c10::toString(prob.scalar_type()));
  checkType(isFloat(iou), "iou: dtype must be floating point, got ", c10::toString(iou.scalar_type()));
  checkType(groups.scalar_type() == at::kLong || groups.scalar_type() == at::kInt,
            "groups: dtype must be int64 (or int32), got ", c10::toString(groups.scalar_type()));
  checkType(prob.dim() == 1, "prob: must be 1-D [K], got ", prob.dim(), "-D");
  checkRange(iou.dim() == 1 && iou.size(0) == prob.size(0), "iou: must be 1-D of length K = ", prob.size(0));
  checkRange(groups.dim() == 1 && groups.size(0) == prob.size(0), "groups: must be 1-D of length K = ", prob.size(0));
  checkType(iou.device() == prob.device(), "iou: must be on prob's device (", prob.device().str(), ")");
  checkRange(kind == AlignLossKind::Align || kind == AlignLossKind::IaBce || kind == AlignLossKind::SdAlign,
             "kind: targets are defined for 'align', 'ia-bce' and 'sd-align' only, got '", alignLossKindName(kind),
             "'");
  checkRange(std::isfinite(params.alpha) && params.alpha >= 0 && params.alpha <= 1,
             "options.alpha: must be in [0, 1], got ", params.alpha);
  checkRange(std::isfinite(params.tau) && params.tau > 0, "options.tau: must be a positive number, got ", params.tau);
  checkRange(std::isfinite(params.minQuality) && params.minQuality >= 0 && params.minQuality <= 1,
             "options.minQuality: must be in [0, 1], got ", params.minQuality);

  at::NoGradGuard noGrad;
  const at::Tensor p = prob.detach();
  const at::Tensor u = iou.detach().to(p.scalar_type()).clamp(0.0, 1.0);
  AlignTargets r;
  r.quality = p.pow(params.alpha) * u.pow(1.0 - params.alpha);
  if (kind == AlignLossKind::IaBce) r.quality = r.quality.clamp_min(params.minQuality);
  r.rank = groupRanks(groups, r.quality).to(p.device());
  r.weight = params.primeWeights ? at::exp(-r.rank.to(p.scalar_type()) / params.tau) : at::ones_like(p);
  r.target = r.weight * r.quality;
  return r;
}

}  // namespace adetr::ops
