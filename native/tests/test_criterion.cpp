// C++ tests of the criterion: each classification loss against a scalar transcription of the
// spec's formula, the matcher against brute force over all assignments (k = 1 and k = 2), and
// the criterion's composition (normalisation, prime weights) on a hand-checked case.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
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

using adetr::train::ClassLossKind;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Spec d.1–d.7 for one entry, written directly from the formulas.
double entryLoss(ClassLossKind kind, double x, double t, bool pos) {
  const double p = sigmoid(x), g = 2.0, a = 0.25;
  const double logp = std::log(p), log1mp = std::log(1 - p);
  const double bce = -(t * logp + (1 - t) * log1mp);
  const double neg = -std::pow(p, g) * log1mp;
  switch (kind) {
    case ClassLossKind::Align: return pos ? -t * std::pow(1 - p, g) * logp - (1 - t) * std::pow(p, g) * log1mp : neg;
    case ClassLossKind::IaBce: return pos ? bce : neg;
    case ClassLossKind::Focal: return pos ? -a * std::pow(1 - p, g) * logp : (1 - a) * neg;
    case ClassLossKind::Qfl: return pos ? bce * std::pow(std::abs(t - p), 2.0) : -log1mp * std::pow(p, 2.0);
    case ClassLossKind::Vfl: return pos ? bce * t : 0.75 * neg;
    case ClassLossKind::StableDino: return pos ? a * std::pow(t - p, g) * bce : (1 - a) * neg;
  }
  return 0;
}

void testClassificationLosses() {
  at::manual_seed(3);
  const int64_t n = 7, c = 5;
  auto logits = (at::randn({n, c}, at::kDouble) * 3).set_requires_grad(true);
  auto target = at::rand({n, c}, at::kDouble);
  auto positive = at::rand({n, c}) < 0.3;
  for (auto kind : {ClassLossKind::Align, ClassLossKind::IaBce, ClassLossKind::Focal, ClassLossKind::Qfl, ClassLossKind::Vfl,
                    ClassLossKind::StableDino}) {
    auto loss = adetr::train::classificationLossComposed(kind, logits, target, positive, {});
    double expected = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j)
        expected += entryLoss(kind, logits[i][j].item<double>(), target[i][j].item<double>(), positive[i][j].item<bool>());
    const double got = loss.item<double>();
    EXPECT(std::abs(got - expected) < 1e-9 * (1 + std::abs(expected)), "%s: %.12g vs %.12g",
          adetr::train::classLossKindName(kind).c_str(), got, expected);
    // Gradient against central differences of the scalar formula, for a few entries.
    auto grad = torch::autograd::grad({loss}, {logits})[0];
    for (int64_t e = 0; e < 5; ++e) {
      const int64_t i = e % n, j = (e * 3) % c;
      const double x = logits[i][j].item<double>(), t = target[i][j].item<double>();
      const bool pos = positive[i][j].item<bool>();
      const double h = 1e-6;
      const double fd = (entryLoss(kind, x + h, t, pos) - entryLoss(kind, x - h, t, pos)) / (2 * h);
      EXPECT(std::abs(grad[i][j].item<double>() - fd) < 1e-5 * (1 + std::abs(fd)), "%s grad", adetr::train::classLossKindName(kind).c_str());
    }
  }
  // Stability: huge logits give finite losses.
  auto extreme = at::tensor({-100.0, 100.0, -30.0, 30.0}, at::kDouble).view({2, 2});
  auto pos = at::tensor({1, 0, 0, 1}).to(at::kBool).view({2, 2});
  for (auto kind : {ClassLossKind::Align, ClassLossKind::IaBce, ClassLossKind::Focal}) {
    auto l = adetr::train::classificationLossComposed(kind, extreme, at::full({2, 2}, 0.5, at::kDouble), pos, {});
    EXPECT(std::isfinite(l.item<double>()), "stable at ±100");
  }
}

// Brute force: the minimum total cost over injective maps of the k·G columns into queries.
double bruteForce(const at::Tensor& cost) {
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
  return best;
}

at::Tensor matchingCost(const at::Tensor& logits, const at::Tensor& boxes, const adetr::model::Target& t) {
  // Spec c.1 transcribed per pair.
  const int64_t q = logits.size(0), g = t.labels.size(0);
  auto cost = at::zeros({q, g}, at::kDouble);
  for (int64_t i = 0; i < q; ++i) {
    for (int64_t j = 0; j < g; ++j) {
      const double p = sigmoid(logits[i][t.labels[j].item<int64_t>()].item<double>());
      const double pos = 0.25 * std::pow(1 - p, 2) * -std::log(p + 1e-8);
      const double neg = 0.75 * std::pow(p, 2) * -std::log(1 - p + 1e-8);
      double l1 = 0;
      for (int d = 0; d < 4; ++d) l1 += std::abs(boxes[i][d].item<double>() - t.boxes[j][d].item<double>());
      auto xyxy = [](double cx, double cy, double w, double h) { return std::array<double, 4>{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}; };
      auto a = xyxy(boxes[i][0].item<double>(), boxes[i][1].item<double>(), boxes[i][2].item<double>(), boxes[i][3].item<double>());
      auto b = xyxy(t.boxes[j][0].item<double>(), t.boxes[j][1].item<double>(), t.boxes[j][2].item<double>(), t.boxes[j][3].item<double>());
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
    for (int64_t i = 0; i < m.queries.numel(); ++i) got += cost[m.queries[i].item<int64_t>()][m.gts[i].item<int64_t>()].item<double>();
    const double best = bruteForce(cost.repeat({1, copies}));
    EXPECT(std::abs(got - best) < 1e-4, "trial %d: matched cost %.9g, optimum %.9g", trial, got, best);
    // Grouped by GT, each GT exactly `copies` times, queries distinct.
    auto uniq = std::get<0>(at::_unique(m.queries));
    EXPECT(uniq.numel() == m.queries.numel(), "distinct queries");
    for (int64_t i = 1; i < m.gts.numel(); ++i) EXPECT(m.gts[i].item<int64_t>() >= m.gts[i - 1].item<int64_t>(), "sorted by GT");
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
  expected += 5 * entryLoss(ClassLossKind::Align, -4.0, 0, false);
  EXPECT(std::abs(term("loss_class") - expected) < 1e-5, "class loss %.9g vs %.9g", term("loss_class"), expected);
  EXPECT(losses.terms.size() == 6, "enc + final layer × 3 terms");
}

}  // namespace

int main() {
  return adetr::test::runTests("test_criterion", [] {
    testClassificationLosses();
    testMatcher();
    testComposition();
  });
}
