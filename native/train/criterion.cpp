#include "train/criterion.h"

#include <ATen/TensorIndexing.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/arg_error.h"
#include "ops/align_loss/align_loss.h"
#include "ops/align_loss/align_targets.h"
#include "ops/box/box_ops.h"
#include "train/losses.h"
#include "train/matcher.h"

namespace adetr::train {

namespace {

struct OutputLoss {
  at::Tensor cls, bbox, giou;
};

// Losses of one output (a decoder layer, the encoder proposals, or a layer's DN queries).
OutputLoss outputLoss(const model::LayerPrediction& pred, const std::vector<model::Target>& targets,
                      const std::vector<ImageMatch>& matches, const CriterionOptions& o, double normaliser,
                      bool primeWeights, std::vector<ImageMatchDetail>* detail = nullptr) {
  const int64_t numClasses = pred.logits.size(2);
  std::vector<at::Tensor> bList, qList, gList, labelList, boxList;
  for (size_t b = 0; b < matches.size(); ++b) {
    const auto& m = matches[b];
    if (m.queries.numel() == 0) continue;
    bList.push_back(at::full({m.queries.numel()}, static_cast<int64_t>(b), at::TensorOptions().dtype(at::kLong)));
    qList.push_back(m.queries);
    gList.push_back(m.gts);
    labelList.push_back(targets[b].labels.to(at::kLong).index_select(0, m.gts));
    boxList.push_back(targets[b].boxes.to(pred.boxes.scalar_type()).index_select(0, m.gts));
  }
  auto opts = pred.logits.options();
  auto positive = at::zeros(pred.logits.sizes(), opts.dtype(at::kBool));
  auto target = at::zeros(pred.logits.sizes(), opts.requires_grad(false));
  OutputLoss out;
  if (bList.empty()) {
    out.bbox = pred.boxes.sum() * 0.0;
    out.giou = pred.boxes.sum() * 0.0;
  } else {
    auto bIdx = at::cat(bList), qIdx = at::cat(qList), gIdx = at::cat(gList), labels = at::cat(labelList);
    auto gtBoxes = at::cat(boxList);
    using at::indexing::TensorIndex;
    auto predBoxes = pred.boxes.index({TensorIndex(bIdx), TensorIndex(qIdx)});
    auto [iou, giou] = ops::boxIouGiou(ops::boxCxcywhToXyxy(predBoxes), ops::boxCxcywhToXyxy(gtBoxes));
    at::Tensor weight, t, rank;
    {
      at::NoGradGuard noGrad;
      auto p = pred.logits.index({TensorIndex(bIdx), TensorIndex(qIdx), TensorIndex(labels)}).sigmoid();
      auto u = iou.detach().clamp_min(0);
      weight = at::ones_like(u);
      // Groups of the prime-sample ranks: one per (image, GT). Within a group the entries come
      // by query index ascending (PairOrder::ByGt; the DN slots ascending), and the ranking is
      // stable, so tied qualities rank the lower query index first.
      auto groups = bIdx * (gIdx.max().item<int64_t>() + 1) + gIdx;
      switch (o.loss) {
        case ops::AlignLossKind::Align:
        case ops::AlignLossKind::IaBce:
        case ops::AlignLossKind::SdAlign: {
          // q = p^α·u^(1−α) (clamped at 0.01 for IA-BCE), ranked within each (image, GT) group,
          // prime weight e^(−rank/τ) on the target and on the box losses (docs/numerical-contract.md §D.2, §D.2b).
          // SD-DETR's TAL target s^0.25·u^0.75 is the same q, unclamped, and its caller never
          // asks for prime weights (docs/neighbour-methods.md §2.6 stage C), so t = q there.
          ops::AlignTargetParams tp;
          tp.alpha = o.qualityAlpha;
          tp.tau = o.tau;
          tp.primeWeights = primeWeights;
          auto targets = ops::alignTargets(p, u, groups, o.loss, tp);
          weight = targets.weight;
          t = targets.target;
          rank = targets.rank;
          break;
        }
        case ops::AlignLossKind::Focal: t = at::ones_like(u); break;
        case ops::AlignLossKind::Qfl:
        case ops::AlignLossKind::Vfl: t = u; break;
        case ops::AlignLossKind::StableDino: {
          // T = IoU², rescaled per image so its largest value is 1 (docs/numerical-contract.md §D.7).
          t = u.pow(2);
          for (int64_t b = 0; b < static_cast<int64_t>(matches.size()); ++b) {
            auto sel = bIdx.eq(b);
            if (!sel.any().item<bool>()) continue;
            auto mx = t.masked_select(sel).max().item<double>();
            const double scale = std::max(1.0 / (mx + 1e-8), 1.0);
            t = at::where(sel, t * scale, t);
          }
          break;
        }
      }
      if (detail && !rank.defined()) {
        // The other losses use no ranks; report the Align quality's ranks (weights stay 1).
        ops::AlignTargetParams tp;
        tp.alpha = o.qualityAlpha;
        tp.primeWeights = false;
        rank = ops::alignTargets(p, u, groups, ops::AlignLossKind::Align, tp).rank;
      }
      positive.index_put_({TensorIndex(bIdx), TensorIndex(qIdx), TensorIndex(labels)}, true);
      target.index_put_({TensorIndex(bIdx), TensorIndex(qIdx), TensorIndex(labels)}, t.to(target.scalar_type()));
    }
    out.bbox = ((predBoxes - gtBoxes).abs().sum(1) * weight).sum() / normaliser;
    out.giou = ((1 - giou) * weight).sum() / normaliser;
    if (detail) {
      // Split the concatenated entries back per image (images without a match are empty).
      auto rankCpu = rank.to(at::kCPU, at::kLong);
      auto weightCpu = weight.detach().to(at::kCPU, at::kDouble);
      int64_t offset = 0;
      for (size_t b = 0; b < matches.size(); ++b) {
        const int64_t n = matches[b].queries.numel();
        auto& d = (*detail)[b];
        d.ranks = rankCpu.narrow(0, offset, n).clone();
        d.weights = weightCpu.narrow(0, offset, n).clone();
        offset += n;
      }
    }
  }
  auto logits2d = pred.logits.reshape({-1, numClasses});
  auto target2d = target.reshape({-1, numClasses});
  auto positive2d = positive.reshape({-1, numClasses});
  at::Tensor clsSum =
      o.fusedClassLoss
          ? ops::alignClassificationLoss(logits2d, target2d, positive2d, at::Tensor(), o.loss, o.classParams)
          : classificationLossComposed(o.loss, logits2d, target2d, positive2d, o.classParams);
  out.cls = clsSum / normaliser;
  return out;
}

}  // namespace

std::string lossSuffix(LossOutput output, int64_t layer, int64_t layers) {
  const bool last = layer + 1 == layers;
  switch (output) {
    case LossOutput::Encoder: return "_enc";
    case LossOutput::Decoder: return last ? "" : "_" + std::to_string(layer);
    case LossOutput::Denoising: return last ? "_dn" : "_dn_" + std::to_string(layer);
  }
  return "";
}

std::string lossTermName(const char* term, const std::string& suffix) { return std::string("loss_") + term + suffix; }

CriterionOptions criterionDefaults(ops::AlignLossKind loss) {
  CriterionOptions o;
  o.loss = loss;
  const bool align = loss == ops::AlignLossKind::Align || loss == ops::AlignLossKind::IaBce;
  // The other losses of the comparison table, and SD-DETR's TAL (docs/neighbour-methods.md §2.6 stage C),
  // train DINO's one-to-one matching; weights and matcher stay the recipe's.
  o.mixedMatching = align;
  if (loss == ops::AlignLossKind::StableDino) {
    o.matching.positionModulated = true;
    o.weightClass = 6.0;
  }
  return o;
}

LossTerms computeLosses(const model::DinoOutput& out, const std::vector<model::Target>& targets,
                        const CriterionOptions& o, std::vector<OutputMatchDetail>* matching, double givenNumBoxes) {
  checkType(static_cast<int64_t>(targets.size()) == out.layers.back().logits.size(0),
            "targets: expected one per image");
  int64_t totalGt = 0;
  for (const auto& t : targets) totalGt += t.labels.size(0);
  const double numBoxes = givenNumBoxes > 0 ? givenNumBoxes : std::max<double>(static_cast<double>(totalGt), 1.0);
  const bool primeWeights = o.loss == ops::AlignLossKind::Align || o.loss == ops::AlignLossKind::IaBce;

  // Outputs: encoder proposals, then decoder layers 0..L-1; k copies except on the last layer.
  std::vector<model::LayerPrediction> outputs;
  std::vector<std::string> suffixes;
  std::vector<int64_t> ks;
  const int64_t numLayers = static_cast<int64_t>(out.layers.size());
  outputs.push_back(out.encoder);
  suffixes.push_back(lossSuffix(LossOutput::Encoder));
  ks.push_back(o.mixedMatching ? o.k : 1);
  for (int64_t i = 0; i < numLayers; ++i) {
    outputs.push_back(out.layers[i]);
    suffixes.push_back(lossSuffix(LossOutput::Decoder, i, numLayers));
    ks.push_back(o.mixedMatching && i + 1 < numLayers ? o.k : 1);
  }
  auto matches = matchOutputs(outputs, targets, ks, o);

  LossTerms result;
  auto add = [&](const std::string& suffix, const OutputLoss& l, double wCls) {
    result.terms.emplace_back(lossTermName("class", suffix), l.cls);
    result.weights.push_back(wCls);
    result.terms.emplace_back(lossTermName("bbox", suffix), l.bbox);
    result.weights.push_back(o.weightBbox);
    result.terms.emplace_back(lossTermName("giou", suffix), l.giou);
    result.weights.push_back(o.weightGiou);
  };
  // The detail of one output's matches: indices here, ranks and weights from outputLoss.
  auto newDetail = [&](const std::string& output, int64_t layer, const std::string& suffix, int64_t k,
                       const std::vector<ImageMatch>& m, const std::function<int64_t(size_t)>& copies) {
    OutputMatchDetail d;
    d.output = output;
    d.layer = layer;
    d.suffix = suffix;
    d.k = k;
    for (size_t b = 0; b < m.size(); ++b) {
      ImageMatchDetail im;
      im.queries = m[b].queries.to(at::kCPU, at::kLong);
      im.gts = m[b].gts.to(at::kCPU, at::kLong);
      im.ranks = at::zeros({0}, at::TensorOptions().dtype(at::kLong));
      im.weights = at::zeros({0}, at::TensorOptions().dtype(at::kDouble));
      im.copies = copies(b);
      d.images.push_back(std::move(im));
    }
    matching->push_back(std::move(d));
    return &matching->back().images;
  };
  if (matching) {
    matching->clear();
    // Room for every output, so the pointer newDetail returns stays valid while it is filled.
    matching->reserve(outputs.size() + out.denoising.size());
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::vector<ImageMatchDetail>* detail = nullptr;
    if (matching) {
      const int64_t queries = outputs[i].logits.size(1);
      detail = newDetail(i == 0 ? "encoder" : "decoder", static_cast<int64_t>(i) - 1, suffixes[i], ks[i], matches[i],
                         [&](size_t b) { return gtCopiesFor(ks[i], queries, targets[b].labels.size(0)); });
    }
    add(suffixes[i], outputLoss(outputs[i], targets, matches[i], o, numBoxes, primeWeights && ks[i] > 1, detail),
        o.weightClass);
  }

  // Denoising: fixed assignment of each positive DN slot to its GT (docs/numerical-contract.md §D.4), normaliser
  // num_boxes · groups, no prime weights.
  if (out.dn && !out.denoising.empty()) {
    const auto& dn = *out.dn;
    std::vector<ImageMatch> dnMatches;
    for (const auto& t : targets) {
      const int64_t g = t.labels.size(0);
      ImageMatch m;
      if (g == 0) {
        m.queries = at::zeros({0}, at::TensorOptions().dtype(at::kLong));
        m.gts = m.queries;
      } else {
        auto gt = at::arange(g, at::TensorOptions().dtype(at::kLong));
        auto groups = at::arange(dn.numGroups, at::TensorOptions().dtype(at::kLong)) * (2 * dn.maxGt);
        m.queries = (groups.unsqueeze(1) + gt.unsqueeze(0)).reshape({-1});
        m.gts = gt.repeat({dn.numGroups});
      }
      dnMatches.push_back(m);
    }
    const double dnNorm = numBoxes * static_cast<double>(dn.numGroups);
    const int64_t dnLayers = static_cast<int64_t>(out.denoising.size());
    for (int64_t i = 0; i < dnLayers; ++i) {
      const std::string suffix = lossSuffix(LossOutput::Denoising, i, dnLayers);
      std::vector<ImageMatchDetail>* detail = nullptr;
      if (matching) {
        detail = newDetail("denoising", i, suffix, dn.numGroups, dnMatches, [&](size_t) { return dn.numGroups; });
      }
      add(suffix, outputLoss(out.denoising[i], targets, dnMatches, o, dnNorm, false, detail), o.weightClassDn);
    }
  }

  at::Tensor total;
  for (size_t i = 0; i < result.terms.size(); ++i) {
    auto w = result.terms[i].second * result.weights[i];
    total = total.defined() ? total + w : w;
  }
  result.total = total;
  return result;
}

}  // namespace adetr::train
