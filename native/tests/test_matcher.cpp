// C++ checks of the Hungarian matchers (native/train/matcher.h), without Node:
//   - the cost block against a transcription of the formulas of docs/numerical-contract.md (§C.1, and §C.3 in the
//     Stable-DINO code's [Q, C] form on images without repeated classes), written with ATen ops;
//   - matchLayers' assignment cost against brute force over every assignment of the queries to
//     the k_b·G_b GT copies (Q ≤ 7, G ≤ 4, k = 1 and 2), pair validity and pair order;
//   - the k-copies mapping on a case whose answer is known by construction, mmdet's per-image
//     k = max(1, min(k, Q // G)) (not sticky across the batch), tied queries in index order;
//   - Stable-DINO's position-modulated cost per (query, GT) pair with two GTs of one class,
//     against a scalar transcription, and unlike the released code's column-collision form;
//   - empty GT images, the whole batch equal to per-(layer, image) calls, hungarianMatch, errors.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "model/cdn.h"
#include "model/dino.h"
#include "ops/lsa/lsa.h"
#include "train/matcher.h"
#include "tests/test_support.h"

namespace {

using adetr::model::LayerPrediction;
using adetr::model::Target;
using adetr::test::expectArgError;
using adetr::train::MatcherCosts;
using adetr::train::MatchPairs;
using adetr::train::PairOrder;

const auto kDouble = at::TensorOptions().dtype(at::kDouble);
const auto kLong = at::TensorOptions().dtype(at::kLong);

// ---- the contract's formulas, transcribed like the Python matchers (full [Q, C] then columns) ----

at::Tensor cxcywhToXyxy(const at::Tensor& b) {
  auto cx = b.select(1, 0), cy = b.select(1, 1), w = b.select(1, 2), h = b.select(1, 3);
  return at::stack({cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h}, 1);
}

// detrex generalized_box_iou: iou = inter / (union + 1e-6); giou = iou − (C − union) / (C + 1e-6).
at::Tensor detrexGiou(const at::Tensor& a, const at::Tensor& b) {
  auto areaA = (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  auto areaB = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  auto lt = at::max(a.unsqueeze(1).slice(2, 0, 2), b.unsqueeze(0).slice(2, 0, 2));
  auto rb = at::min(a.unsqueeze(1).slice(2, 2, 4), b.unsqueeze(0).slice(2, 2, 4));
  auto wh = (rb - lt).clamp_min(0);
  auto inter = wh.select(2, 0) * wh.select(2, 1);
  auto uni = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
  auto iou = inter / (uni + 1e-6);
  auto clt = at::min(a.unsqueeze(1).slice(2, 0, 2), b.unsqueeze(0).slice(2, 0, 2));
  auto crb = at::max(a.unsqueeze(1).slice(2, 2, 4), b.unsqueeze(0).slice(2, 2, 4));
  auto cwh = (crb - clt).clamp_min(0);
  auto area = cwh.select(2, 0) * cwh.select(2, 1);
  return iou - (area - uni) / (area + 1e-6);
}

at::Tensor focalClassCost(const at::Tensor& p, double alpha, double gamma) {
  auto neg = (1 - alpha) * p.pow(gamma) * (-(1 - p + 1e-8).log());
  auto pos = alpha * (1 - p).pow(gamma) * (-(p + 1e-8).log());
  return pos - neg;
}

// docs/numerical-contract.md §C.1 (or §C.3 when positionModulated: U [Q, C] holds u01 at the GT classes, rescaled so
// its max is 1, p' = p·sqrt(U)); labels must be distinct for §C.3 (no column collisions).
at::Tensor naiveCost(const at::Tensor& logits, const at::Tensor& boxes, const Target& t, const MatcherCosts& c) {
  auto p = logits.to(at::kDouble).sigmoid();
  auto pred = boxes.to(at::kDouble), gt = t.boxes.to(at::kDouble);
  auto giou = detrexGiou(cxcywhToXyxy(pred), cxcywhToXyxy(gt));
  at::Tensor costGiou = -giou;
  if (c.positionModulated) {
    auto u = at::zeros_like(p);
    u.index_put_({at::indexing::Slice(), t.labels}, (giou + 1) / 2);
    const double scale = std::max(1.0 / (u.max().item<double>() + 1e-8), 1.0);
    p = p * (u * scale).sqrt();
    costGiou = 1 - giou;
  }
  auto costClass = focalClassCost(p, c.focalAlpha, c.focalGamma).index_select(1, t.labels);
  auto costBbox = at::cdist(pred, gt, 1.0);
  return c.bboxWeight * costBbox + c.classWeight * costClass + c.giouWeight * costGiou;
}

// ---- brute force ----

// Minimum Σ m[r, col(r)] over injective maps of the short side into the long side.
double bruteForceMin(const at::Tensor& m) {
  at::Tensor a = m.size(0) <= m.size(1) ? m : m.t();
  a = a.contiguous();
  const int64_t rows = a.size(0), cols = a.size(1);
  const double* d = a.data_ptr<double>();
  std::vector<char> used(cols, 0);
  double best = std::numeric_limits<double>::infinity();
  std::function<void(int64_t, double)> go = [&](int64_t r, double sum) {
    if (r == rows) {
      best = std::min(best, sum);
      return;
    }
    for (int64_t c = 0; c < cols; ++c) {
      if (used[c]) continue;
      used[c] = 1;
      go(r + 1, sum + d[r * cols + c]);
      used[c] = 0;
    }
  };
  go(0, 0.0);
  return best;
}

// ---- random inputs ----

std::mt19937 gRng(20240611);

double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gRng); }
int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gRng); }

at::Tensor randomBoxes(int64_t n) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) {
    v.push_back(uniform(0.15, 0.85));
    v.push_back(uniform(0.15, 0.85));
    v.push_back(uniform(0.05, 0.5));
    v.push_back(uniform(0.05, 0.5));
  }
  return at::tensor(v, kDouble).reshape({n, 4});
}

// G labels in [0, classes); distinct when asked (needs G ≤ classes).
Target randomTarget(int64_t g, int64_t classes, bool distinct) {
  std::vector<int64_t> labels;
  std::vector<int64_t> pool(classes);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), gRng);
  for (int64_t j = 0; j < g; ++j) labels.push_back(distinct ? pool[j] : pick(0, classes - 1));
  return {at::tensor(labels, kLong).reshape({g}), randomBoxes(g).to(at::kFloat)};
}

LayerPrediction randomLayer(int64_t batch, int64_t queries, int64_t classes) {
  auto logits = (at::randn({batch, queries, classes}, kDouble) * 2.5).to(at::kFloat);
  std::vector<at::Tensor> boxes;
  for (int64_t b = 0; b < batch; ++b) boxes.push_back(randomBoxes(queries));
  if (batch == 0) return {logits, at::zeros({0, queries, 4}, at::kFloat)};
  return {logits, at::stack(boxes).to(at::kFloat)};
}

std::vector<int64_t> toVector(const at::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Pair validity, order and optimality of one image's match against its naive cost block.
void checkImageMatch(const MatchPairs& m, const at::Tensor& cost, int64_t k, PairOrder order, const std::string& what) {
  const int64_t q = cost.size(0), g = cost.size(1);
  EXPECT(m.queryIndices.scalar_type() == at::kLong && m.gtIndices.scalar_type() == at::kLong, "%s: int64",
         what.c_str());
  EXPECT(m.queryIndices.device().is_cpu() && m.queryIndices.dim() == 1, "%s: CPU 1-D", what.c_str());
  const auto qs = toVector(m.queryIndices), gs = toVector(m.gtIndices);
  const int64_t kb = std::max<int64_t>(1, std::min<int64_t>(k, g > 0 ? q / g : k));
  const int64_t expectedPairs = std::min(q, kb * g);
  EXPECT(static_cast<int64_t>(qs.size()) == expectedPairs && gs.size() == qs.size(), "%s: %zu pairs, expected %lld",
         what.c_str(), qs.size(), static_cast<long long>(expectedPairs));
  if (qs.size() != gs.size()) return;
  std::set<int64_t> distinctQueries(qs.begin(), qs.end());
  EXPECT(distinctQueries.size() == qs.size(), "%s: a query matched twice", what.c_str());
  std::vector<int64_t> perGt(g, 0);
  double total = 0;
  for (size_t n = 0; n < qs.size(); ++n) {
    EXPECT(qs[n] >= 0 && qs[n] < q && gs[n] >= 0 && gs[n] < g, "%s: index out of range", what.c_str());
    if (qs[n] < 0 || qs[n] >= q || gs[n] < 0 || gs[n] >= g) return;
    ++perGt[gs[n]];
    total += cost[qs[n]][gs[n]].item<double>();
  }
  if (q >= kb * g) {
    for (int64_t j = 0; j < g; ++j)
      EXPECT(perGt[j] == kb, "%s: GT %lld got %lld queries", what.c_str(), (long long)j, (long long)perGt[j]);
  }
  for (size_t n = 1; n < qs.size(); ++n) {
    const bool sorted =
        order == PairOrder::ByGt ? (gs[n - 1] < gs[n] || (gs[n - 1] == gs[n] && qs[n - 1] < qs[n])) : qs[n - 1] < qs[n];
    EXPECT(sorted, "%s: pairs out of order at %zu", what.c_str(), n);
  }
  const double best = g > 0 ? bruteForceMin(cost.repeat({1, kb})) : 0.0;
  EXPECT(std::abs(total - best) <= 1e-9 * (1 + std::abs(best)), "%s: matched cost %.15g, brute force %.15g",
         what.c_str(), total, best);
}

bool sameMatch(const MatchPairs& a, const MatchPairs& b) {
  return toVector(a.queryIndices) == toVector(b.queryIndices) && toVector(a.gtIndices) == toVector(b.gtIndices);
}

// ---- tests ----

void testCostAgainstFormula() {
  for (int trial = 0; trial < 60; ++trial) {
    const bool modulated = trial % 2 == 1;
    const int64_t q = pick(1, 9), classes = pick(4, 8), g = pick(1, 4);
    auto layer = randomLayer(1, q, classes);
    auto target = randomTarget(g, classes, modulated);
    MatcherCosts costs;
    costs.positionModulated = modulated;
    if (trial % 5 == 4) {  // non-default weights and focal parameters
      costs.classWeight = 1.3;
      costs.bboxWeight = 0.7;
      costs.giouWeight = 3.1;
      costs.focalAlpha = 0.4;
      costs.focalGamma = 1.5;
    }
    auto got = adetr::train::imageMatchingCost(layer.logits[0], layer.boxes[0], target, costs);
    auto expected = naiveCost(layer.logits[0], layer.boxes[0], target, costs);
    EXPECT(got.scalar_type() == at::kDouble && got.sizes() == expected.sizes(), "trial %d: shape/dtype", trial);
    const double diff = (got - expected).abs().max().item<double>();
    EXPECT(diff < 1e-9, "trial %d (modulated %d): max |cost − formula| = %g", trial, modulated, diff);
  }
}

void testAgainstBruteForce() {
  int cases = 0;
  for (int trial = 0; trial < 150; ++trial) {
    const int64_t batch = pick(1, 3), q = pick(1, 7), classes = pick(3, 6);
    const int64_t numLayers = pick(1, 3);
    const bool modulated = trial % 3 == 2;
    std::vector<Target> targets;
    for (int64_t b = 0; b < batch; ++b)
      targets.push_back(randomTarget(pick(0, std::min<int64_t>(4, classes)), classes, modulated));
    std::vector<LayerPrediction> layers;
    std::vector<int64_t> ks;
    for (int64_t l = 0; l < numLayers; ++l) {
      layers.push_back(randomLayer(batch, q, classes));
      ks.push_back(pick(1, 2));
    }
    MatcherCosts costs;
    costs.positionModulated = modulated;
    const PairOrder order = trial % 2 == 0 ? PairOrder::ByGt : PairOrder::ByQuery;
    auto result = adetr::train::matchLayers(layers, targets, ks, costs, order);
    EXPECT(result.size() == layers.size(), "trial %d: one result per layer", trial);
    for (int64_t l = 0; l < numLayers; ++l) {
      EXPECT(static_cast<int64_t>(result[l].size()) == batch, "trial %d: one result per image", trial);
      for (int64_t b = 0; b < batch; ++b) {
        auto cost = naiveCost(layers[l].logits[b], layers[l].boxes[b], targets[b], costs);
        checkImageMatch(
            result[l][b], cost, ks[l], order,
            "trial " + std::to_string(trial) + " layer " + std::to_string(l) + " image " + std::to_string(b));
        ++cases;
      }
    }
  }
  std::printf("brute force: %d (layer, image) problems checked\n", cases);
}

// Queries 2j and 2j+1 sit exactly on GT j with a confident logit of its class, the others far
// away with low scores, so k = 2 must give GT j the queries {2j, 2j+1}; k = 1 one of them.
void testKnownCopies() {
  const int64_t g = 3, q = 8, classes = 4;
  auto gtBoxes = at::tensor({0.2, 0.2, 0.1, 0.1, 0.5, 0.5, 0.2, 0.3, 0.8, 0.7, 0.15, 0.1}, kDouble).reshape({g, 4});
  auto labels = at::tensor(std::vector<int64_t>{2, 0, 2}, kLong);
  auto logits = at::full({1, q, classes}, -6.0, kDouble);
  auto boxes = at::tensor(std::vector<double>(q * 4, 0.0), kDouble).reshape({1, q, 4});
  for (int64_t j = 0; j < g; ++j) {
    for (int64_t c = 0; c < 2; ++c) {
      boxes[0][2 * j + c].copy_(gtBoxes[j]);
      logits[0][2 * j + c][labels[j].item<int64_t>()] = 4.0 - c;  // the second copy a little less sure
    }
  }
  for (int64_t i = 2 * g; i < q; ++i) boxes[0][i].copy_(at::tensor({0.95, 0.05, 0.02, 0.02}, kDouble));
  std::vector<LayerPrediction> layers{{logits, boxes}, {logits, boxes}};
  std::vector<Target> targets{{labels, gtBoxes}};
  auto r = adetr::train::matchLayers(layers, targets, {2, 1});
  EXPECT(toVector(r[0][0].gtIndices) == (std::vector<int64_t>{0, 0, 1, 1, 2, 2}), "k=2 GT indices");
  EXPECT(toVector(r[0][0].queryIndices) == (std::vector<int64_t>{0, 1, 2, 3, 4, 5}), "k=2 query indices");
  EXPECT(toVector(r[1][0].gtIndices) == (std::vector<int64_t>{0, 1, 2}), "k=1 GT indices");
  EXPECT(toVector(r[1][0].queryIndices) == (std::vector<int64_t>{0, 2, 4}), "k=1 picks the surer copy");
  // Q / G limits the copies (mmdet's rule): Q = 8, G = 3 → at most 2 even when k = 5.
  auto capped = adetr::train::matchLayers({layers[0]}, targets, {5});
  EXPECT(capped[0][0].queryIndices.numel() == 6, "k capped at Q / G: %lld pairs",
         (long long)capped[0][0].queryIndices.numel());
  EXPECT(adetr::train::gtCopiesFor(2, 900, 20) == 2 && adetr::train::gtCopiesFor(2, 900, 500) == 1 &&
             adetr::train::gtCopiesFor(3, 10, 4) == 2 && adetr::train::gtCopiesFor(2, 3, 7) == 1 &&
             adetr::train::gtCopiesFor(2, 5, 0) == 1,
         "gtCopiesFor");
}

// Stable-DINO's position-modulated cost (docs/numerical-contract.md §C.3) per (query, GT) pair, as the paper writes it:
// p'_ij = p_i[c_j]·sqrt(u_ij·max(1/(max u + 1e-8), 1)), u = (GIoU + 1)/2 over the image's block.
// Scalar transcription, one pair at a time.
double perPairModulatedCost(const at::Tensor& logits, const at::Tensor& boxes, const Target& t, int64_t i, int64_t j,
                            double maxU, double* classPart) {
  auto pred = cxcywhToXyxy(boxes.to(at::kDouble).slice(0, i, i + 1));
  auto gt = cxcywhToXyxy(t.boxes.to(at::kDouble).slice(0, j, j + 1));
  const double giou = detrexGiou(pred, gt).item<double>();
  const double u = 0.5 * (giou + 1);
  const double scale = std::max(1.0 / (maxU + 1e-8), 1.0);
  const double p =
      1.0 / (1.0 + std::exp(-logits[i][t.labels[j].item<int64_t>()].item<double>())) * std::sqrt(u * scale);
  const double cls = 0.25 * (1 - p) * (1 - p) * -std::log(p + 1e-8) - 0.75 * p * p * -std::log(1 - p + 1e-8);
  double l1 = 0;
  for (int d = 0; d < 4; ++d) l1 += std::abs(boxes[i][d].item<double>() - t.boxes[j][d].item<double>());
  if (classPart) *classPart = cls;
  return 5 * l1 + 2 * cls + 2 * (1 - giou);
}

at::Tensor perPairModulatedBlock(const at::Tensor& logits, const at::Tensor& boxes, const Target& t,
                                 at::Tensor* classParts = nullptr) {
  const int64_t q = logits.size(0), g = t.labels.size(0);
  auto giou = detrexGiou(cxcywhToXyxy(boxes.to(at::kDouble)), cxcywhToXyxy(t.boxes.to(at::kDouble)));
  const double maxU = ((giou + 1) / 2).max().item<double>();
  auto out = at::zeros({q, g}, kDouble);
  if (classParts) *classParts = at::zeros({q, g}, kDouble);
  for (int64_t i = 0; i < q; ++i) {
    for (int64_t j = 0; j < g; ++j) {
      double cls = 0;
      out[i][j] = perPairModulatedCost(logits, boxes, t, i, j, maxU, &cls);
      if (classParts) (*classParts)[i][j] = cls;
    }
  }
  return out;
}

void testPositionModulatedPerPair() {
  MatcherCosts costs;
  costs.positionModulated = true;
  const int64_t q = 7, classes = 4;
  int distinctPairs = 0, releasedDiffers = 0;
  for (int trial = 0; trial < 10; ++trial) {
    // Image 0: GTs 0 and 1 share class 2 (different boxes), GT 2 is class 0. Image 1 has class 2
    // too, so the released code's batch-wide U[:, tgt_ids] would let it overwrite image 0's column.
    Target t0{at::tensor(std::vector<int64_t>{2, 2, 0}, kLong), randomBoxes(3).to(at::kFloat)};
    Target t1{at::tensor(std::vector<int64_t>{2, 1}, kLong), randomBoxes(2).to(at::kFloat)};
    auto layer = randomLayer(2, q, classes);
    std::vector<Target> targets{t0, t1};
    for (int64_t b = 0; b < 2; ++b) {
      at::Tensor classParts;
      auto want = perPairModulatedBlock(layer.logits[b], layer.boxes[b], targets[b], &classParts);
      auto got = adetr::train::imageMatchingCost(layer.logits[b], layer.boxes[b], targets[b], costs);
      const double diff = (got - want).abs().max().item<double>();
      EXPECT(diff < 1e-9, "trial %d image %lld: per-pair modulated cost differs from the scalar form by %g", trial,
             (long long)b, diff);
      if (b == 0) {
        // Same class, different boxes: each pair has its own class cost.
        for (int64_t i = 0; i < q; ++i) {
          if (std::abs(classParts[i][0].item<double>() - classParts[i][1].item<double>()) > 1e-9) ++distinctPairs;
        }
        // The released code's form: column c holds the u of the LAST GT of class c (here GT 1),
        // so GT 0's class cost uses GT 1's position. It differs from the per-pair cost.
        auto giou = detrexGiou(cxcywhToXyxy(layer.boxes[b].to(at::kDouble)), cxcywhToXyxy(t0.boxes.to(at::kDouble)));
        auto u = (giou + 1) / 2;
        auto released = at::zeros({q, classes}, kDouble);
        for (int64_t j = 0; j < 3; ++j) released.select(1, t0.labels[j].item<int64_t>()).copy_(u.select(1, j));
        const double scale = std::max(1.0 / (released.max().item<double>() + 1e-8), 1.0);
        auto pPrime = layer.logits[b].to(at::kDouble).sigmoid() * (released * scale).sqrt();
        auto releasedClass = focalClassCost(pPrime, 0.25, 2.0).index_select(1, t0.labels);
        if ((releasedClass.select(1, 0) - classParts.select(1, 0)).abs().max().item<double>() > 1e-9) ++releasedDiffers;
        EXPECT((releasedClass.select(1, 0) - releasedClass.select(1, 1)).abs().max().item<double>() < 1e-12,
               "the released form gives both same-class GTs one column");
      }
    }
    // The batched matcher (shared class columns per image) is optimal for the per-pair costs.
    auto r = adetr::train::matchLayers({layer, layer}, targets, {1, 2}, costs);
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t b = 0; b < 2; ++b)
        checkImageMatch(r[l][b], perPairModulatedBlock(layer.logits[b], layer.boxes[b], targets[b]), l == 0 ? 1 : 2,
                        PairOrder::ByGt, "modulated trial " + std::to_string(trial) + " layer " + std::to_string(l));
  }
  EXPECT(distinctPairs >= 60, "same-class GTs got distinct per-pair class costs in %d of 70 queries", distinctPairs);
  EXPECT(releasedDiffers == 10, "the released code's collision form differs in %d of 10 trials", releasedDiffers);
}

// mmdet's k rule per image, not the released code's sticky reduction: an image whose GTs cap k
// at 1 leaves the next image's k alone; ties in the cost go to the lower query index.
void testCopiesPerImage() {
  const int64_t q = 5, classes = 3;
  std::vector<Target> targets{randomTarget(3, classes, false), randomTarget(2, classes, false),
                              randomTarget(6, classes, false)};
  auto layer = randomLayer(3, q, classes);
  auto r = adetr::train::matchLayers({layer}, targets, {2});
  // Image 0: Q / G = 5 / 3 = 1 → k = 1; image 1: min(2, 5 / 2) = 2; image 2: G > Q → k = 1, Q pairs.
  EXPECT(r[0][0].queryIndices.numel() == 3, "image 0: k capped at Q / G = 1 (%lld pairs)",
         (long long)r[0][0].queryIndices.numel());
  EXPECT(r[0][1].queryIndices.numel() == 4, "image 1: k = 2 after image 0 capped its own (%lld pairs)",
         (long long)r[0][1].queryIndices.numel());
  EXPECT(r[0][2].queryIndices.numel() == 5, "image 2: G > Q gives k = 1 (never 0), Q pairs (%lld)",
         (long long)r[0][2].queryIndices.numel());
  for (int64_t b = 0; b < 3; ++b)
    checkImageMatch(r[0][b], naiveCost(layer.logits[b], layer.boxes[b], targets[b], {}), 2, PairOrder::ByGt,
                    "copies image " + std::to_string(b));
  EXPECT(adetr::train::gtCopiesFor(2, 900, 450) == 2 && adetr::train::gtCopiesFor(2, 900, 451) == 1 &&
             adetr::train::gtCopiesFor(4, 900, 300) == 3 && adetr::train::gtCopiesFor(2, 900, 901) == 1,
         "gtCopiesFor = max(1, min(k, Q // G))");
  // Identical queries 1 and 3 on the single GT: with k = 2 both are matched, listed lower first.
  auto logits = at::full({1, 4, classes}, -5.0, kDouble);
  auto boxes = at::tensor(std::vector<double>(16, 0.0), kDouble).reshape({1, 4, 4}) + 0.1;
  Target one{at::tensor(std::vector<int64_t>{1}, kLong), at::tensor({0.5, 0.5, 0.3, 0.3}, kDouble).reshape({1, 4})};
  for (int64_t i : {1, 3}) {
    boxes[0][i].copy_(one.boxes[0]);
    logits[0][i][1] = 3.0;
  }
  auto tie = adetr::train::matchLayers({{logits, boxes}}, {one}, {2});
  EXPECT(toVector(tie[0][0].queryIndices) == (std::vector<int64_t>{1, 3}), "tied queries listed by index");
}

void testEmptyAndBatchEquivalence() {
  const int64_t batch = 4, q = 7, classes = 5;
  std::vector<Target> targets{randomTarget(3, classes, false), randomTarget(0, classes, false),
                              randomTarget(4, classes, false), randomTarget(1, classes, false)};
  std::vector<LayerPrediction> layers{randomLayer(batch, q, classes), randomLayer(batch, q, classes),
                                      randomLayer(batch, q, classes)};
  const std::vector<int64_t> ks{2, 2, 1};
  auto all = adetr::train::matchLayers(layers, targets, ks);
  for (size_t l = 0; l < layers.size(); ++l) {
    EXPECT(all[l][1].queryIndices.numel() == 0 && all[l][1].gtIndices.numel() == 0 &&
               all[l][1].queryIndices.scalar_type() == at::kLong,
           "layer %zu: empty GT gives an empty int64 match", l);
    for (int64_t b = 0; b < batch; ++b) {
      LayerPrediction one{layers[l].logits.slice(0, b, b + 1), layers[l].boxes.slice(0, b, b + 1)};
      auto single = adetr::train::matchLayers({one}, {targets[b]}, {ks[l]});
      EXPECT(sameMatch(all[l][b], single[0][0]), "layer %zu image %lld: batch differs from single", l, (long long)b);
    }
  }
  // All-empty batch, no layers, no images.
  std::vector<Target> none{randomTarget(0, classes, false), randomTarget(0, classes, false)};
  auto empty = adetr::train::matchLayers({randomLayer(2, q, classes)}, none, {2});
  EXPECT(empty.size() == 1 && empty[0].size() == 2 && empty[0][0].queryIndices.numel() == 0, "all-empty batch");
  EXPECT(adetr::train::matchLayers({}, targets, {}).empty(), "no layers");
  auto noImages = adetr::train::matchLayers({randomLayer(0, q, classes)}, {}, {1});
  EXPECT(noImages.size() == 1 && noImages[0].empty(), "no images");
  // hungarianMatch is k = 1 everywhere with DETR's by-query order.
  auto h = adetr::train::hungarianMatch(layers, targets);
  auto m = adetr::train::matchLayers(layers, targets, {1, 1, 1}, {}, PairOrder::ByQuery);
  for (size_t l = 0; l < layers.size(); ++l)
    for (int64_t b = 0; b < batch; ++b)
      EXPECT(sameMatch(h[l][b], m[l][b]), "hungarianMatch layer %zu image %lld", l, (long long)b);
}

// DINO-sized problems: the matched cost equals the exact solver's optimum on the naive matrix.
void testDinoSized() {
  const int64_t batch = 2, q = 900, classes = 80;
  std::vector<Target> targets{randomTarget(20, classes, false), randomTarget(7, classes, false)};
  std::vector<LayerPrediction> layers{randomLayer(batch, q, classes), randomLayer(batch, q, classes)};
  auto r = adetr::train::matchLayers(layers, targets, {2, 1});
  for (size_t l = 0; l < 2; ++l) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t k = l == 0 ? 2 : 1;
      auto cost = naiveCost(layers[l].logits[b], layers[l].boxes[b], targets[b], {}).repeat({1, k}).contiguous();
      auto best = adetr::lsa::solve(cost.data_ptr<double>(), cost.size(0), cost.size(1), false);
      double total = 0;
      const auto qs = toVector(r[l][b].queryIndices), gs = toVector(r[l][b].gtIndices);
      for (size_t n = 0; n < qs.size(); ++n) total += cost[qs[n]][gs[n]].item<double>();
      EXPECT(qs.size() == best.rowIndices.size(), "DINO-sized layer %zu image %lld: pair count", l, (long long)b);
      EXPECT(std::abs(total - best.totalCost) < 1e-9 * (1 + std::abs(total)),
             "DINO-sized layer %zu image %lld: %.15g vs %.15g", l, (long long)b, total, best.totalCost);
    }
  }
}

void testErrors() {
  using Kind = adetr::ArgError::Kind;
  const int64_t classes = 5, q = 6;
  auto layer = randomLayer(2, q, classes);
  std::vector<Target> two{randomTarget(2, classes, false), randomTarget(3, classes, false)};
  auto match = [](std::vector<LayerPrediction> layers, std::vector<Target> targets, std::vector<int64_t> ks,
                  MatcherCosts costs = {}) { adetr::train::matchLayers(layers, targets, ks, costs); };
  expectArgError([&] { match({layer}, {two[0]}, {2}); }, Kind::Range, "targets:");
  expectArgError([&] { match({layer}, two, {2, 2}); }, Kind::Range, "gtCopies:");
  expectArgError([&] { match({layer}, two, {0}); }, Kind::Range, "gtCopies[0]:");
  expectArgError([&] { match({{layer.logits[0], layer.boxes}}, two, {1}); }, Kind::Type, "layers[0].logits:");
  expectArgError(
      [&] {
        match({{layer.logits, layer.boxes.slice(2, 0, 3)}}, two, {1});
      },
      Kind::Type, "layers[0].boxes:");
  expectArgError(
      [&] {
        match({{layer.logits, layer.boxes.slice(1, 0, 3)}}, two, {1});
      },
      Kind::Range, "layers[0].boxes:");
  expectArgError(
      [&] {
        match({layer, {layer.logits.to(at::kLong), layer.boxes}}, two, {1, 1});
      },
      Kind::Type, "layers[1].logits:");
  auto badLabel = two;
  badLabel[1].labels = at::tensor(std::vector<int64_t>{0, classes, 1}, kLong);
  expectArgError([&] { match({layer}, badLabel, {1}); }, Kind::Range, "targets[1].labels:");
  auto floatLabel = two;
  floatLabel[0].labels = floatLabel[0].labels.to(at::kFloat);
  expectArgError([&] { match({layer}, floatLabel, {1}); }, Kind::Type, "targets[0].labels:");
  auto badBoxes = two;
  badBoxes[0].boxes = badBoxes[0].boxes.slice(0, 0, 1);
  expectArgError([&] { match({layer}, badBoxes, {1}); }, Kind::Type, "targets[0].boxes:");
  auto nanLogits = layer.logits.clone();
  nanLogits[1][2].fill_(std::nan(""));
  expectArgError([&] { match({layer, {nanLogits, layer.boxes}}, two, {1, 1}); }, Kind::Range, "layers[1]:");
  MatcherCosts badAlpha;
  badAlpha.focalAlpha = 1.5;
  expectArgError([&] { match({layer}, two, {1}, badAlpha); }, Kind::Range, "costs.focalAlpha:");
}

}  // namespace

int main() {
  at::manual_seed(7);
  return adetr::test::runTests("test_matcher", [] {
    testCostAgainstFormula();
    testAgainstBruteForce();
    testKnownCopies();
    testPositionModulatedPerPair();
    testCopiesPerImage();
    testEmptyAndBatchEquivalence();
    testDinoSized();
    testErrors();
  });
}
