// C++ tests of the criterion: each classification loss against a scalar transcription of the
// contract's formula (docs/numerical-contract.md §D), the matcher against brute force over all assignments (k = 1 and k
// = 2), and the criterion's composition (normalisation, prime weights) on a hand-checked case; SD-DETR's task alignment
// loss ('sd-align', docs/neighbour-methods.md §2.4, §2.6 stage C) through the whole criterion.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <vector>

#include "model/cdn.h"
#include "model/dino.h"
#include "train/criterion.h"
#include "train/losses.h"
#include "tests/test_support.h"

namespace {

using adetr::ops::AlignLossKind;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// docs/numerical-contract.md §D.1–D.7 for one entry, written directly from the formulas.
double entryLoss(AlignLossKind kind, double x, double t, bool pos) {
  const double p = sigmoid(x), g = 2.0, a = 0.25;
  const double logp = std::log(p), log1mp = std::log(1 - p);
  const double bce = -(t * logp + (1 - t) * log1mp);
  const double neg = -std::pow(p, g) * log1mp;
  switch (kind) {
    case AlignLossKind::Align: return pos ? -t * std::pow(1 - p, g) * logp - (1 - t) * std::pow(p, g) * log1mp : neg;
    case AlignLossKind::IaBce: return pos ? bce : neg;
    case AlignLossKind::Focal: return pos ? -a * std::pow(1 - p, g) * logp : (1 - a) * neg;
    case AlignLossKind::Qfl: return pos ? bce * std::pow(std::abs(t - p), 2.0) : -log1mp * std::pow(p, 2.0);
    case AlignLossKind::Vfl: return pos && t > 0 ? bce * t : 0.75 * neg;  // VarifocalNet: t ≤ 0 is a negative
    case AlignLossKind::StableDino: return pos ? a * std::pow(t - p, g) * bce : (1 - a) * neg;
    case AlignLossKind::SdAlign: return pos ? std::pow(std::abs(t - p), g) * bce : neg;  // TAL, γ = 2
  }
  return 0;
}

void testClassificationLosses() {
  at::manual_seed(3);
  const int64_t n = 7, c = 5;
  auto logits = (at::randn({n, c}, at::kDouble) * 3).set_requires_grad(true);
  auto target = at::rand({n, c}, at::kDouble);
  auto positive = at::rand({n, c}) < 0.3;
  target.masked_fill_(at::rand({n, c}) < 0.3, 0.0);  // matched predictions with IoU 0 (VFL's negative branch)
  for (auto kind : {AlignLossKind::Align, AlignLossKind::IaBce, AlignLossKind::Focal, AlignLossKind::Qfl,
                    AlignLossKind::Vfl, AlignLossKind::StableDino, AlignLossKind::SdAlign}) {
    auto loss = adetr::train::classificationLossComposed(kind, logits, target, positive, {});
    double expected = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j)
        expected +=
            entryLoss(kind, logits[i][j].item<double>(), target[i][j].item<double>(), positive[i][j].item<bool>());
    const double got = loss.item<double>();
    EXPECT(std::abs(got - expected) < 1e-9 * (1 + std::abs(expected)), "%s: %.12g vs %.12g",
           adetr::ops::alignLossKindName(kind), got, expected);
    // Gradient against central differences of the scalar formula, for a few entries.
    auto grad = torch::autograd::grad({loss}, {logits})[0];
    for (int64_t e = 0; e < 5; ++e) {
      const int64_t i = e % n, j = (e * 3) % c;
      const double x = logits[i][j].item<double>(), t = target[i][j].item<double>();
      const bool pos = positive[i][j].item<bool>();
      const double h = 1e-6;
      const double fd = (entryLoss(kind, x + h, t, pos) - entryLoss(kind, x - h, t, pos)) / (2 * h);
      EXPECT(std::abs(grad[i][j].item<double>() - fd) < 1e-5 * (1 + std::abs(fd)), "%s grad",
             adetr::ops::alignLossKindName(kind));
    }
  }
  // Stability: huge logits give finite losses.
  auto extreme = at::tensor({-100.0, 100.0, -30.0, 30.0}, at::kDouble).view({2, 2});
  auto pos = at::tensor({1, 0, 0, 1}).to(at::kBool).view({2, 2});
  for (auto kind : {AlignLossKind::Align, AlignLossKind::IaBce, AlignLossKind::Focal, AlignLossKind::SdAlign}) {
    auto l = adetr::train::classificationLossComposed(kind, extreme, at::full({2, 2}, 0.5, at::kDouble), pos, {});
    EXPECT(std::isfinite(l.item<double>()), "stable at ±100");
  }
}

// Brute force: the minimum total cost over injective maps of the k·G columns into queries.
// Every map takes `cols` entries, so the costs are shifted to be non-negative (the partial-sum
// pruning below is only valid then) and the shift is added back.
double bruteForce(const at::Tensor& rawCost) {
  const double shift = rawCost.numel() > 0 ? rawCost.min().item<double>() : 0.0;
  const at::Tensor cost = rawCost - shift;
  const int64_t q = cost.size(0), cols = cost.size(1);
  std::vector<int64_t> rows(q);
  std::iota(rows.begin(), rows.end(), 0);
  double best = INFINITY;
  std::vector<bool> used(q, false);
  std::function<void(int64_t, double)> rec = [&](int64_t col, double acc) {
    if (acc >= best) return;
    if (col == cols) {
      best = acc;
      return;
    }
    for (int64_t r = 0; r < q; ++r) {
      if (used[r]) continue;
      used[r] = true;
      rec(col + 1, acc + cost[r][col].item<double>());
      used[r] = false;
    }
  };
  rec(0, 0.0);
  return best + static_cast<double>(cols) * shift;
}

at::Tensor matchingCost(const at::Tensor& logits, const at::Tensor& boxes, const adetr::model::Target& t) {
  // docs/numerical-contract.md §C.1 transcribed per pair.
  const int64_t q = logits.size(0), g = t.labels.size(0);
  auto cost = at::zeros({q, g}, at::kDouble);
  for (int64_t i = 0; i < q; ++i) {
    for (int64_t j = 0; j < g; ++j) {
      const double p = sigmoid(logits[i][t.labels[j].item<int64_t>()].item<double>());
      const double pos = 0.25 * std::pow(1 - p, 2) * -std::log(p + 1e-8);
      const double neg = 0.75 * std::pow(p, 2) * -std::log(1 - p + 1e-8);
      double l1 = 0;
      for (int d = 0; d < 4; ++d) l1 += std::abs(boxes[i][d].item<double>() - t.boxes[j][d].item<double>());
      auto xyxy = [](double cx, double cy, double w, double h) {
        return std::array<double, 4>{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
      };
      auto a = xyxy(boxes[i][0].item<double>(), boxes[i][1].item<double>(), boxes[i][2].item<double>(),
                    boxes[i][3].item<double>());
      auto b = xyxy(t.boxes[j][0].item<double>(), t.boxes[j][1].item<double>(), t.boxes[j][2].item<double>(),
                    t.boxes[j][3].item<double>());
      const double iw = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
      const double ih = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
      const double inter = iw * ih;
      const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
      const double cw = std::max(a[2], b[2]) - std::min(a[0], b[0]), ch = std::max(a[3], b[3]) - std::min(a[1], b[1]);
      const double giou = inter / (uni + 1e-6) - (cw * ch - uni) / (cw * ch + 1e-6);
      cost[i][j] = 5 * l1 + 2 * (pos - neg) - 2 * giou;
    }
  }
  return cost;
}

void testMatcher() {
  at::manual_seed(11);
  adetr::train::CriterionOptions o;
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t q = 4 + trial % 3, c = 3, g = 1 + trial % 3, k = trial % 2 ? 2 : 1;
    adetr::model::LayerPrediction pred{at::randn({1, q, c}), at::rand({1, q, 4}) * 0.5 + 0.25};
    adetr::model::Target t{at::randint(0, c, {g}, at::kLong), at::rand({g, 4}) * 0.5 + 0.25};
    auto matches = adetr::train::matchOutputs({pred}, {t}, {k}, o);
    const auto& m = matches[0][0];
    const int64_t copies = std::max<int64_t>(1, std::min<int64_t>(k, q / g));
    EXPECT(m.queries.numel() == copies * g, "every GT copy matched (%lld)", static_cast<long long>(m.queries.numel()));
    auto cost = matchingCost(pred.logits[0], pred.boxes[0], t);
    double got = 0;
    for (int64_t i = 0; i < m.queries.numel(); ++i)
      got += cost[m.queries[i].item<int64_t>()][m.gts[i].item<int64_t>()].item<double>();
    const double best = bruteForce(cost.repeat({1, copies}));
    EXPECT(std::abs(got - best) < 1e-4, "trial %d: matched cost %.9g, optimum %.9g", trial, got, best);
    // Grouped by GT, each GT exactly `copies` times, queries distinct.
    auto uniq = std::get<0>(at::_unique(m.queries));
    EXPECT(uniq.numel() == m.queries.numel(), "distinct queries");
    for (int64_t i = 1; i < m.gts.numel(); ++i)
      EXPECT(m.gts[i].item<int64_t>() >= m.gts[i - 1].item<int64_t>(), "sorted by GT");
  }
  // An image without GT matches nothing.
  adetr::model::LayerPrediction pred{at::randn({1, 5, 3}), at::rand({1, 5, 4})};
  adetr::model::Target none{at::zeros({0}, at::kLong), at::zeros({0, 4})};
  auto m = adetr::train::matchOutputs({pred}, {none}, {2}, o);
  EXPECT(m[0][0].queries.numel() == 0, "no GT, no match");
}

void testComposition() {
  // One image, one GT, an output whose query 0 is the GT box exactly: with k = 1 and the
  // align loss, the box losses vanish and the class loss is the closed form / num_boxes.
  adetr::train::CriterionOptions o;
  o.fusedClassLoss = false;
  adetr::model::Target t{at::tensor({1}, at::kLong), at::tensor({0.5, 0.5, 0.2, 0.2}).view({1, 4})};
  auto logits = at::full({1, 3, 2}, -4.0);
  logits[0][0][1] = 2.0;
  auto boxes = at::tensor({0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05, 0.9, 0.9, 0.05, 0.05}).view({1, 3, 4});
  adetr::model::DinoOutput out;
  out.encoder = {logits, boxes};
  out.layers = {{logits, boxes}};
  auto losses = adetr::train::computeLosses(out, {t}, o);
  auto term = [&](const std::string& name) {
    for (const auto& [n, v] : losses.terms)
      if (n == name) return v.item<double>();
    return std::nan("");
  };
  // IoU and GIoU carry detrex's eps: u = 0.04 / (0.04 + 1e-6) for the exact box.
  const double u = 0.04 / (0.04 + 1e-6);
  EXPECT(std::abs(term("loss_bbox")) < 1e-6, "exact box: no L1 loss");
  EXPECT(std::abs(term("loss_giou") - (1 - u)) < 1e-6, "GIoU loss %.9g", term("loss_giou"));
  // Positive entry: p = σ(2), q = p^0.25·u^0.75, t = q (rank 0: weight 1); 5 negatives at −4.
  const double p = sigmoid(2.0), q = std::pow(p, 0.25) * std::pow(u, 0.75);
  double expected = -q * std::pow(1 - p, 2) * std::log(p) - (1 - q) * p * p * std::log(1 - p);
  expected += 5 * entryLoss(AlignLossKind::Align, -4.0, 0, false);
  EXPECT(std::abs(term("loss_class") - expected) < 1e-5, "class loss %.9g vs %.9g", term("loss_class"), expected);
  EXPECT(losses.terms.size() == 6, "enc + final layer × 3 terms");
}

// Aligned IoU of two cxcywh boxes (detrex's eps), for the expected qualities.
double pairIou(const at::Tensor& a, const at::Tensor& b) {
  auto box = [](const at::Tensor& t) {
    const double cx = t[0].item<double>(), cy = t[1].item<double>(), w = t[2].item<double>(), h = t[3].item<double>();
    return std::array<double, 4>{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
  };
  auto x = box(a), y = box(b);
  const double iw = std::max(0.0, std::min(x[2], y[2]) - std::max(x[0], y[0]));
  const double ih = std::max(0.0, std::min(x[3], y[3]) - std::max(x[1], y[1]));
  const double inter = iw * ih;
  return inter / ((x[2] - x[0]) * (x[3] - x[1]) + (y[2] - y[0]) * (y[3] - y[1]) - inter + 1e-6);
}

// computeLosses(..., &matching): every output's pairs are a valid k-copy assignment, optimal
// against brute force, ranked by q = p^0.25·IoU^0.75 with ties to the lower query index, and
// weighted e^(−rank/τ) on k > 1 outputs (1 on the last layer and on denoising).
void testMatchingDetail() {
  at::manual_seed(21);
  const int64_t q = 6, c = 3;
  std::vector<adetr::model::Target> targets{
      {at::tensor({1, 2}, at::kLong), at::tensor({0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.2}).view({2, 4})},
      {at::tensor({1}, at::kLong), at::tensor({0.5, 0.5, 0.3, 0.3}).view({1, 4})}};
  auto layer = [&] { return adetr::model::LayerPrediction{at::randn({2, q, c}), at::rand({2, q, 4}) * 0.4 + 0.3}; };
  adetr::model::DinoOutput out;
  out.encoder = layer();
  out.layers = {layer(), layer()};
  // Image 1: queries 2 and 4 are identical and sit on the GT, so their qualities tie.
  for (auto* pred : {&out.encoder, &out.layers[0]}) {
    for (int64_t i : {2, 4}) {
      pred->boxes[1][i].copy_(targets[1].boxes[0]);
      pred->logits[1][i].copy_(at::tensor({-3.0, 2.0, -3.0}));
    }
  }
  // Denoising: 2 groups of 2·G_max slots.
  adetr::model::DenoisingQueries dn;
  dn.maxGt = 2;
  dn.numGroups = 2;
  out.dn = dn;
  out.denoising = {{at::randn({2, 8, c}), at::rand({2, 8, 4}) * 0.4 + 0.3},
                   {at::randn({2, 8, c}), at::rand({2, 8, 4}) * 0.4 + 0.3}};

  adetr::train::CriterionOptions o;  // align, mixed matching, k = 2, τ = 1.5
  std::vector<adetr::train::OutputMatchDetail> detail;
  auto losses = adetr::train::computeLosses(out, targets, o, &detail);
  EXPECT(detail.size() == 5, "encoder + 2 layers + 2 DN layers: %zu", detail.size());
  const std::vector<std::string> suffixes{"_enc", "_0", "", "_dn_0", "_dn"};
  const std::vector<int64_t> ks{2, 2, 1, 2, 2};
  auto plain = adetr::train::computeLosses(out, targets, o);
  EXPECT(losses.total.item<double>() == plain.total.item<double>(), "returning the matching changes no loss");
  for (size_t d = 0; d < detail.size() && d < 5; ++d) {
    const auto& m = detail[d];
    EXPECT(m.suffix == suffixes[d] && m.k == ks[d], "output %zu: suffix '%s' k %lld", d, m.suffix.c_str(),
           (long long)m.k);
    EXPECT(m.output == (d == 0  ? "encoder"
                        : d < 3 ? "decoder"
                                : "denoising"),
           "output %zu kind %s", d, m.output.c_str());
    const auto& pred = d == 0 ? out.encoder : d < 3 ? out.layers[d - 1] : out.denoising[d - 3];
    for (size_t b = 0; b < 2; ++b) {
      const auto& im = m.images[b];
      const int64_t g = targets[b].labels.size(0), k = im.copies, n = im.queries.numel();
      EXPECT(k == ks[d], "output %zu image %zu: copies %lld", d, b, (long long)k);
      EXPECT(n == k * g && im.gts.numel() == n && im.ranks.numel() == n && im.weights.numel() == n,
             "output %zu image %zu: %lld pairs", d, b, (long long)n);
      if (n != k * g) continue;
      auto uniq = std::get<0>(at::_unique(im.queries));
      EXPECT(uniq.numel() == n, "output %zu image %zu: distinct queries", d, b);
      if (d < 3) {
        auto cost = matchingCost(pred.logits[b], pred.boxes[b], targets[b]);
        double got = 0;
        for (int64_t i = 0; i < n; ++i)
          got += cost[im.queries[i].item<int64_t>()][im.gts[i].item<int64_t>()].item<double>();
        const double best = bruteForce(cost.repeat({1, k}));
        EXPECT(std::abs(got - best) < 1e-4, "output %zu image %zu: cost %.9g vs brute force %.9g", d, b, got, best);
      } else {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t grp = i / g, j = i % g;
          EXPECT(im.queries[i].item<int64_t>() == grp * 2 * dn.maxGt + j && im.gts[i].item<int64_t>() == j,
                 "DN pair %lld: the positive slot of its group", (long long)i);
        }
      }
      // Ranks: per GT, by q descending, ties to the lower query index; weights per spec.
      for (int64_t j = 0; j < g; ++j) {
        std::vector<std::pair<double, int64_t>> members;  // (q, query)
        std::vector<int64_t> entries;
        for (int64_t i = 0; i < n; ++i) {
          if (im.gts[i].item<int64_t>() != j) continue;
          const int64_t qi = im.queries[i].item<int64_t>();
          const double p = sigmoid(pred.logits[b][qi][targets[b].labels[j].item<int64_t>()].item<double>());
          const double u = pairIou(pred.boxes[b][qi], targets[b].boxes[j]);
          members.emplace_back(std::pow(p, 0.25) * std::pow(u, 0.75), qi);
          entries.push_back(i);
        }
        EXPECT(static_cast<int64_t>(members.size()) == k, "output %zu: GT %lld has %zu predictions", d, (long long)j,
               members.size());
        for (size_t e = 0; e < entries.size(); ++e) {
          int64_t want = 0;
          for (size_t f = 0; f < members.size(); ++f) {
            const bool ahead =
                members[f].first > members[e].first + 1e-6 ||
                (std::abs(members[f].first - members[e].first) <= 1e-6 && members[f].second < members[e].second);
            if (f != e && ahead) ++want;
          }
          const int64_t i = entries[e];
          EXPECT(im.ranks[i].item<int64_t>() == want,
                 "output %zu image %zu GT %lld query %lld: rank %lld, expected %lld", d, b, (long long)j,
                 (long long)members[e].second, (long long)im.ranks[i].item<int64_t>(), (long long)want);
          const double w = d < 2 ? std::exp(-static_cast<double>(want) / 1.5) : 1.0;
          EXPECT(std::abs(im.weights[i].item<double>() - w) < 1e-6, "output %zu: weight %.9g vs %.9g", d,
                 im.weights[i].item<double>(), w);
        }
      }
    }
  }
  // The tie of image 1: both identical queries are its GT's two copies; query 2 ranks first.
  for (size_t d : {size_t{0}, size_t{1}}) {
    const auto& im = detail[d].images[1];
    std::vector<int64_t> qs(im.queries.data_ptr<int64_t>(), im.queries.data_ptr<int64_t>() + im.queries.numel());
    EXPECT(qs == (std::vector<int64_t>{2, 4}), "output %zu: the tied queries are matched", d);
    EXPECT(im.ranks[0].item<int64_t>() == 0 && im.ranks[1].item<int64_t>() == 1,
           "output %zu: tie goes to the lower query", d);
  }
}

// SD-DETR's TAL in the criterion (docs/neighbour-methods.md §2.6 stage C): its defaults are one-to-one
// matching with the recipe's weights and matcher; every output's class term (encoder, decoder
// layers, denoising layers, which use the criterion's loss as for every other kind) is
// Σ TAL / normaliser with t = p^0.25·IoU^0.75 unclamped and no prime weights, and the box losses
// are unweighted. Fused kernel and composed formula alike.
void testSdAlignCriterion() {
  using adetr::train::criterionDefaults;
  const auto o = criterionDefaults(AlignLossKind::SdAlign);
  const auto recipe = criterionDefaults(AlignLossKind::Align);
  EXPECT(o.loss == AlignLossKind::SdAlign && !o.mixedMatching, "sd-align: one-to-one matching");
  EXPECT(o.weightClass == recipe.weightClass && o.weightClassDn == recipe.weightClassDn &&
             o.weightBbox == recipe.weightBbox && o.weightGiou == recipe.weightGiou,
         "sd-align: the recipe's loss weights");
  EXPECT(o.matching.classWeight == recipe.matching.classWeight && o.matching.bboxWeight == recipe.matching.bboxWeight &&
             o.matching.giouWeight == recipe.matching.giouWeight && !o.matching.positionModulated &&
             o.matching.focalAlpha == recipe.matching.focalAlpha && o.matching.focalGamma == recipe.matching.focalGamma,
         "sd-align: the recipe's matcher");
  EXPECT(adetr::ops::parseAlignLossKind("sd-align", "loss") == AlignLossKind::SdAlign &&
             std::string(adetr::ops::alignLossKindName(AlignLossKind::SdAlign)) == "sd-align",
         "'sd-align' round trip");

  // The contract's formula for one output: every entry of [B, Q, C], positives at the given pairs.
  auto expectedClass = [](const adetr::model::LayerPrediction& pred, const std::vector<adetr::model::Target>& targets,
                          const std::vector<adetr::train::ImageMatchDetail>& images, double normaliser) {
    const int64_t q = pred.logits.size(1), c = pred.logits.size(2);
    auto logits = pred.logits.to(at::kDouble).contiguous();
    double sum = 0;
    for (size_t b = 0; b < images.size(); ++b) {
      std::vector<double> target(static_cast<size_t>(q * c), -1.0);  // −1: not a positive entry
      const auto& im = images[b];
      for (int64_t e = 0; e < im.queries.numel(); ++e) {
        const int64_t qi = im.queries[e].item<int64_t>(), j = im.gts[e].item<int64_t>();
        const int64_t cls = targets[b].labels[j].item<int64_t>();
        const double s = sigmoid(logits[b][qi][cls].item<double>());
        const double u = std::max(0.0, pairIou(pred.boxes[b][qi].to(at::kDouble), targets[b].boxes[j].to(at::kDouble)));
        target[static_cast<size_t>(qi * c + cls)] = std::pow(s, 0.25) * std::pow(u, 0.75);
      }
      for (int64_t i = 0; i < q * c; ++i) {
        const double x = logits[b][i / c][i % c].item<double>(), t = target[static_cast<size_t>(i)];
        sum += entryLoss(AlignLossKind::SdAlign, x, t < 0 ? 0.0 : t, t >= 0);
      }
    }
    return sum / normaliser;
  };

  at::manual_seed(31);
  const int64_t q = 6, c = 3;
  std::vector<adetr::model::Target> targets{
      {at::tensor({1, 2}, at::kLong), at::tensor({0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.2}).view({2, 4})},
      {at::tensor({1}, at::kLong), at::tensor({0.5, 0.5, 0.3, 0.3}).view({1, 4})}};
  auto layer = [&](int64_t queries) {
    return adetr::model::LayerPrediction{at::randn({2, queries, c}) * 2, at::rand({2, queries, 4}) * 0.4 + 0.3};
  };
  adetr::model::DinoOutput out;
  out.encoder = layer(q);
  out.layers = {layer(q), layer(q)};
  adetr::model::DenoisingQueries dn;
  dn.maxGt = 2;
  dn.numGroups = 2;
  out.dn = dn;
  out.denoising = {layer(8), layer(8)};
  const double numBoxes = 3;
  for (bool fused : {true, false}) {
    auto opts = o;
    opts.fusedClassLoss = fused;
    std::vector<adetr::train::OutputMatchDetail> detail;
    auto losses = adetr::train::computeLosses(out, targets, opts, &detail);
    auto term = [&](const std::string& name) {
      for (const auto& [n, v] : losses.terms)
        if (n == name) return v.item<double>();
      return std::nan("");
    };
    EXPECT(detail.size() == 5, "encoder + 2 layers + 2 DN layers");
    for (const auto& m : detail) {
      const bool isDn = m.output == "denoising";
      EXPECT(m.k == (isDn ? dn.numGroups : 1), "%s%s: one-to-one (k %lld)", m.output.c_str(), m.suffix.c_str(),
             (long long)m.k);
      const auto& pred = m.output == "encoder" ? out.encoder
                         : isDn                ? out.denoising[static_cast<size_t>(m.layer)]
                                               : out.layers[static_cast<size_t>(m.layer)];
      double l1 = 0;
      for (size_t b = 0; b < m.images.size(); ++b) {
        const auto& im = m.images[b];
        EXPECT(at::equal(im.weights, at::ones_like(im.weights)), "%s%s: no prime weights", m.output.c_str(),
               m.suffix.c_str());
        for (int64_t e = 0; e < im.queries.numel(); ++e) {
          l1 += (pred.boxes[b][im.queries[e].item<int64_t>()] - targets[b].boxes[im.gts[e].item<int64_t>()])
                    .abs()
                    .sum()
                    .item<double>();
        }
      }
      const double norm = isDn ? numBoxes * static_cast<double>(dn.numGroups) : numBoxes;
      const double want = expectedClass(pred, targets, m.images, norm);
      const double got = term("loss_class" + m.suffix);
      EXPECT(std::abs(got - want) < 1e-5 * (1 + std::abs(want)), "%s loss_class%s: %.9g vs TAL %.9g",
             fused ? "fused" : "composed", m.suffix.c_str(), got, want);
      EXPECT(std::abs(term("loss_bbox" + m.suffix) - l1 / norm) < 1e-5, "loss_bbox%s unweighted", m.suffix.c_str());
    }
  }
  // Mixed matching forced on: k = 2 copies, yet TAL still has no prime weights.
  auto mixed = o;
  mixed.mixedMatching = true;
  std::vector<adetr::train::OutputMatchDetail> mixedDetail;
  adetr::train::computeLosses(out, targets, mixed, &mixedDetail);
  EXPECT(mixedDetail[0].k == 2, "mixed matching on request");
  for (const auto& m : mixedDetail)
    for (const auto& im : m.images)
      EXPECT(at::equal(im.weights, at::ones_like(im.weights)), "sd-align never uses prime weights");

  // No clamp: a single query far from its GT, q = p^0.25·u^0.75 ≈ 1e-3 < 0.01.
  adetr::model::Target t1{at::tensor({0}, at::kLong), at::tensor({0.5, 0.5, 0.2, 0.2}).view({1, 4})};
  auto lowLogits = at::full({1, 1, 2}, -6.0);
  auto lowBox = at::tensor({0.395, 0.395, 0.02, 0.02}).view({1, 1, 4});  // overlaps the GT corner by 0.005²
  adetr::model::DinoOutput low;
  low.encoder = {lowLogits, lowBox};
  low.layers = {{lowLogits, lowBox}};
  const double s = sigmoid(-6.0), u = pairIou(lowBox[0][0].to(at::kDouble), t1.boxes[0].to(at::kDouble));
  const double qLow = std::pow(s, 0.25) * std::pow(u, 0.75);
  EXPECT(qLow > 0 && qLow < 0.01, "the case has q = %.3g below the clamp", qLow);
  const double want =
      entryLoss(AlignLossKind::SdAlign, -6.0, qLow, true) + entryLoss(AlignLossKind::SdAlign, -6.0, 0, false);
  const double clamped =
      entryLoss(AlignLossKind::SdAlign, -6.0, 0.01, true) + entryLoss(AlignLossKind::SdAlign, -6.0, 0, false);
  for (bool fused : {true, false}) {
    auto opts = o;
    opts.fusedClassLoss = fused;
    auto l = adetr::train::computeLosses(low, {t1}, opts);
    double got = NAN;
    for (const auto& [n, v] : l.terms)
      if (n == "loss_class") got = v.item<double>();
    // float32 logits and boxes: u carries the rounding of a 0.005-wide overlap.
    EXPECT(std::abs(got - want) < 1e-3 * want, "%s: unclamped class loss %.9g vs %.9g", fused ? "fused" : "composed",
           got, want);
    EXPECT(clamped > 10 * want, "the clamp would show (%.9g vs %.9g)", clamped, want);
  }
}

}  // namespace

int main() {
  return adetr::test::runTests("test_criterion", [] {
    testClassificationLosses();
    testMatcher();
    testComposition();
    testMatchingDetail();
    testSdAlignCriterion();
  });
}
