// Fused classification-loss kernels (native/ops/align_loss) against a naive long-double
// transcription of the contract's formulas written here (docs/numerical-contract.md §D.1, D.2, D.2b,
// D.2c, D.7; SD-DETR's task alignment loss, docs/neighbour-methods.md §2.4, with its tests SD-T5 and
// SD-T6 of §3), central finite differences of that transcription, the criterion's composed ATen
// version (train/losses.h) under autograd, the autograd Function, reduced precisions, saturated
// logits, determinism, argument errors, the Align / IA-BCE targets helper, and CUDA vs CPU when
// built with CUDA.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "ops/align_loss/align_loss.h"
#include "ops/align_loss/align_targets.h"
#include "train/losses.h"
#include "tests/test_support.h"
#ifdef ADETR_WITH_CUDA
#include <torch/cuda.h>
#endif

namespace {

using adetr::ops::AlignLossKind;
using adetr::ops::AlignLossParams;
using adetr::test::expectArgError;

const AlignLossKind kKinds[] = {AlignLossKind::Align,  AlignLossKind::IaBce, AlignLossKind::Focal,
                                AlignLossKind::Qfl,    AlignLossKind::Vfl,   AlignLossKind::StableDino,
                                AlignLossKind::SdAlign};

// ---- naive transcription (long double, plain log of the probabilities) -----------------------

long double naiveEntry(AlignLossKind kind, long double x, long double t, bool pos, const AlignLossParams& prm) {
  const long double p = 1.0L / (1.0L + std::exp(-x));
  const long double logp = std::log(p), log1mp = std::log(1.0L - p);
  const long double g = prm.gamma, a = prm.focalAlpha;
  const long double bce = -(t * logp + (1 - t) * log1mp);
  const long double neg = -std::pow(p, g) * log1mp;
  switch (kind) {
    case AlignLossKind::Align: return pos ? -t * std::pow(1 - p, g) * logp - (1 - t) * std::pow(p, g) * log1mp : neg;
    case AlignLossKind::IaBce: return pos ? bce : neg;
    case AlignLossKind::Focal: return pos ? -a * std::pow(1 - p, g) * logp : (1 - a) * neg;
    case AlignLossKind::Qfl: {
      const long double y = pos ? t : 0.0L;
      return -(y * logp + (1 - y) * log1mp) * std::pow(std::fabs(y - p), (long double)prm.qflBeta);
    }
    case AlignLossKind::Vfl:  // VarifocalNet: weight t·[t>0] + α_v·p^γ·[t≤0]
      return pos && t > 0 ? t * bce : prm.vflAlpha * neg;
    case AlignLossKind::StableDino: return pos ? a * std::pow(std::fabs(t - p), g) * bce : (1 - a) * neg;
    case AlignLossKind::SdAlign:  // TAL: |t − s|^γ·BCE(s, t) on positives, s^γ·BCE(s, 0) elsewhere
      return pos ? std::pow(std::fabs(t - p), g) * bce : neg;
  }
  return 0;
}

struct Problem {
  at::Tensor logits, target, positive, weights;  // float64 (weights may be undefined)
};

Problem makeProblem(int64_t rows, int64_t classes, double scale, bool weighted, uint64_t seed) {
  at::manual_seed(seed);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  Problem p;
  p.logits = at::randn({rows, classes}, opt) * scale;
  p.positive = at::zeros({rows, classes}, opt.dtype(at::kBool));
  p.target = at::zeros({rows, classes}, opt);
  auto cls = at::randint(classes, {rows}, opt.dtype(at::kLong));
  auto tv = at::rand({rows}, opt) * 0.96 + 0.02;
  for (int64_t r = 0; r < rows; ++r) {
    if (r % 3 == 2) continue;  // unmatched rows
    const int64_t c = cls[r].item<int64_t>();
    p.positive[r][c] = true;
    // Every seventh row is a matched prediction with target 0 (IoU 0): VFL's negative branch.
    p.target[r][c] = r % 7 == 4 ? 0.0 : tv[r].item<double>();
  }
  if (weighted) p.weights = at::rand({rows, classes}, opt) * 2.0;
  return p;
}

long double naiveSum(AlignLossKind kind, const Problem& pr, const AlignLossParams& prm, int64_t bump = -1,
                     long double h = 0) {
  const auto x = pr.logits.contiguous(), t = pr.target.contiguous(), pos = pr.positive.contiguous();
  const double* xp = x.data_ptr<double>();
  const double* tp = t.data_ptr<double>();
  const bool* pp = pos.data_ptr<bool>();
  at::Tensor w = pr.weights.defined() ? pr.weights.contiguous() : at::Tensor();
  long double sum = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const long double xi = xp[i] + (i == bump ? h : 0.0L);
    long double v = naiveEntry(kind, xi, tp[i], pp[i], prm);
    if (w.defined()) v *= w.data_ptr<double>()[i];
    sum += v;
  }
  return sum;
}

bool close(double a, double b, double rel, double abs) { return std::fabs(a - b) <= abs + rel * std::fabs(b); }

double maxRelDiff(const at::Tensor& a, const at::Tensor& b, double floor) {
  auto d = (a.to(at::kDouble) - b.to(at::kDouble)).abs() / (b.to(at::kDouble).abs() + floor);
  return d.max().item<double>();
}

AlignLossParams otherParams() {
  AlignLossParams p;
  p.gamma = 1.5;
  p.focalAlpha = 0.3;
  p.vflAlpha = 0.5;
  p.qflBeta = 1.5;
  return p;
}

// ---- tests --------------------------------------------------------------------------------------

void testAgainstNaive() {
  for (int variant = 0; variant < 2; ++variant) {
    const AlignLossParams prm = variant == 0 ? AlignLossParams{} : otherParams();
    for (AlignLossKind kind : kKinds) {
      const Problem pr = makeProblem(23, 7, 2.5, variant == 1, 100 + static_cast<int>(kind) + 10 * variant);
      auto r = adetr::ops::alignLossForwardBackward(pr.logits, pr.target, pr.positive, pr.weights, kind, prm);
      const double want = static_cast<double>(naiveSum(kind, pr, prm));
      const double got = r.loss.item<double>();
      EXPECT(close(got, want, 1e-12, 1e-12), "%s v%d: loss %.17g vs naive %.17g", adetr::ops::alignLossKindName(kind),
             variant, got, want);
      // Central differences of the naive sum, entry by entry.
      const long double h = 1e-6L;
      const double* g = r.gradLogits.data_ptr<double>();
      double worst = 0;
      for (int64_t i = 0; i < pr.logits.numel(); ++i) {
        const long double fd = (naiveSum(kind, pr, prm, i, h) - naiveSum(kind, pr, prm, i, -h)) / (2 * h);
        const double f = static_cast<double>(fd);
        worst = std::max(worst, std::fabs(g[i] - f) / (std::fabs(f) + 1e-3));
      }
      EXPECT(worst < 1e-6, "%s v%d: gradient vs finite differences, worst rel diff %.3g",
             adetr::ops::alignLossKindName(kind), variant, worst);
    }
  }
}

void testAgainstComposedAutograd() {
  for (AlignLossKind kind : kKinds) {
    const Problem pr = makeProblem(31, 9, 4.0, false, 300 + static_cast<int>(kind));
    const std::string name = adetr::ops::alignLossKindName(kind);
    AlignLossParams tp;
    auto x1 = pr.logits.clone().requires_grad_(true);
    auto ref = adetr::train::classificationLossComposed(kind, x1, pr.target, pr.positive, tp);
    ref.backward();
    auto x2 = pr.logits.clone().requires_grad_(true);
    auto fused = adetr::ops::alignClassificationLoss(x2, pr.target, pr.positive, at::Tensor(), kind, tp);
    (fused * 3.0).backward();  // the Function must scale by the incoming gradient
    EXPECT(close(fused.item<double>(), ref.item<double>(), 1e-12, 1e-12), "%s: fused %.17g vs composed %.17g",
           name.c_str(), fused.item<double>(), ref.item<double>());
    const double d = maxRelDiff(x2.grad(), x1.grad() * 3.0, 1e-6);
    EXPECT(d < 1e-10, "%s: autograd gradient vs composed autograd, max rel diff %.3g", name.c_str(), d);
  }
  // No gradient requested: the Function returns the loss without a graph.
  const Problem pr = makeProblem(5, 3, 1.0, false, 1);
  auto loss = adetr::ops::alignClassificationLoss(pr.logits, pr.target, pr.positive, at::Tensor(), AlignLossKind::Align,
                                                  AlignLossParams{});
  EXPECT(!loss.requires_grad(), "loss of a constant input must not require grad");
}

void testSaturatedAndPrecisions() {
  const std::vector<double> extremes = {-1000, -100, -30, -17, 0, 17, 30, 100, 1000};
  for (AlignLossKind kind : kKinds) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
      const int64_t n = static_cast<int64_t>(extremes.size());
      auto x = at::tensor(extremes, at::TensorOptions().dtype(at::kDouble)).view({n, 1}).repeat({1, 2});
      auto pos = at::zeros({n, 2}, at::TensorOptions().dtype(at::kBool));
      pos.select(1, 0).fill_(true);
      auto t = at::full({n, 2}, 0.4, at::TensorOptions().dtype(at::kDouble));
      if (dtype == at::kHalf) x = x.clamp(-60000, 60000);
      auto r = adetr::ops::alignLossForwardBackward(x.to(dtype), t, pos, at::Tensor(), kind, AlignLossParams{});
      EXPECT(std::isfinite(r.loss.item<double>()), "%s %s: loss not finite at saturated logits",
             adetr::ops::alignLossKindName(kind), c10::toString(dtype));
      EXPECT(at::isfinite(r.gradLogits.to(at::kDouble)).all().item<bool>(), "%s %s: gradient not finite",
             adetr::ops::alignLossKindName(kind), c10::toString(dtype));
    }
    // Reduced precisions against float64 on moderate logits.
    const Problem pr = makeProblem(64, 10, 3.0, true, 500 + static_cast<int>(kind));
    auto ref = adetr::ops::alignLossForwardBackward(pr.logits, pr.target, pr.positive, pr.weights, kind, {});
    struct Tol {
      at::ScalarType t;
      double rel;
    };
    for (Tol tol : {Tol{at::kFloat, 1e-5}, Tol{at::kHalf, 2e-2}, Tol{at::kBFloat16, 1e-1}}) {
      // Round the logits to the low precision first, so only the arithmetic differs.
      auto xl = pr.logits.to(tol.t);
      Problem rounded = pr;
      rounded.logits = xl.to(at::kDouble);
      auto exact = adetr::ops::alignLossForwardBackward(rounded.logits, pr.target, pr.positive, pr.weights, kind, {});
      auto low = adetr::ops::alignLossForwardBackward(xl, pr.target, pr.positive, pr.weights, kind, {});
      EXPECT(low.loss.scalar_type() == at::kFloat, "low-precision loss must be float32");
      EXPECT(low.gradLogits.scalar_type() == tol.t, "gradient must keep logits' dtype");
      EXPECT(close(low.loss.item<double>(), exact.loss.item<double>(), tol.rel * 0.1, 0), "%s %s: loss %.9g vs %.9g",
             adetr::ops::alignLossKindName(kind), c10::toString(tol.t), low.loss.item<double>(),
             exact.loss.item<double>());
      const double d = maxRelDiff(low.gradLogits, exact.gradLogits, 1e-2);
      EXPECT(d < tol.rel, "%s %s: gradient max rel diff %.3g", adetr::ops::alignLossKindName(kind),
             c10::toString(tol.t), d);
    }
    (void)ref;
  }
}

void testDeterminismAndWeights() {
  const Problem pr = makeProblem(2 * 900, 80, 3.0, false, 7);
  auto x = pr.logits.to(at::kFloat);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto a = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, {}, AlignLossKind::Align, {});
  at::set_num_threads(std::max(2, threads));
  auto b = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, {}, AlignLossKind::Align, {});
  at::set_num_threads(threads);
  EXPECT(a.loss.item<float>() == b.loss.item<float>(), "loss differs between 1 and %d threads", std::max(2, threads));
  EXPECT(at::equal(a.gradLogits, b.gradLogits), "gradient differs between thread counts");
  // Weights: all-ones equals none; zero masks an entry out.
  auto ones = at::ones_like(pr.target);
  auto c = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, ones, AlignLossKind::Align, {});
  EXPECT(c.loss.item<float>() == a.loss.item<float>(), "weights of one must change nothing");
  auto half = at::full_like(pr.target, 0.5);
  auto d = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, half, AlignLossKind::Align, {});
  EXPECT(close(d.loss.item<double>(), 0.5 * a.loss.item<double>(), 1e-6, 0), "weights of 0.5 must halve the loss");
  // grad=false computes the same loss without a gradient.
  auto e = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, {}, AlignLossKind::Align, {}, false);
  EXPECT(!e.gradLogits.defined() && e.loss.item<float>() == a.loss.item<float>(), "withGrad=false");
  // uint8 positive mask == bool mask; non-contiguous logits are accepted.
  auto f = adetr::ops::alignLossForwardBackward(x.t().contiguous().t(), pr.target, pr.positive.to(at::kByte), {},
                                                AlignLossKind::Align, {});
  EXPECT(f.loss.item<float>() == a.loss.item<float>(), "uint8 mask / strided logits");
}

void testErrors() {
  const Problem pr = makeProblem(4, 3, 1.0, false, 3);
  using K = adetr::ArgError::Kind;
  auto run = [&](const at::Tensor& x, const at::Tensor& t, const at::Tensor& p, const at::Tensor& w,
                 AlignLossParams prm = {}) {
    adetr::ops::alignLossForwardBackward(x, t, p, w, AlignLossKind::Align, prm);
  };
  expectArgError([&] { run(at::Tensor(), pr.target, pr.positive, {}); }, K::Type, "logits:");
  expectArgError([&] { run(pr.logits.to(at::kLong), pr.target, pr.positive, {}); }, K::Type, "logits:");
  expectArgError([&] { run(pr.logits, pr.target.to(at::kInt), pr.positive, {}); }, K::Type, "target:");
  expectArgError([&] { run(pr.logits, pr.target.narrow(0, 0, 2), pr.positive, {}); }, K::Range, "target:");
  expectArgError([&] { run(pr.logits, pr.target, pr.positive.to(at::kFloat), {}); }, K::Type, "positive:");
  expectArgError([&] { run(pr.logits, pr.target, pr.positive.view({3, 4}), {}); }, K::Range, "positive:");
  expectArgError([&] { run(pr.logits, pr.target, pr.positive, pr.target.view({12})); }, K::Range, "weights:");
  AlignLossParams bad;
  bad.gamma = -1;
  expectArgError([&] { run(pr.logits, pr.target, pr.positive, {}, bad); }, K::Range, "options.gamma:");
  bad = {};
  bad.focalAlpha = 1.5;
  expectArgError([&] { run(pr.logits, pr.target, pr.positive, {}, bad); }, K::Range, "options.focalAlpha:");
  expectArgError([] { adetr::ops::parseAlignLossKind("bce"); }, K::Range, "kind:");
  for (AlignLossKind k : kKinds) {
    EXPECT(adetr::ops::parseAlignLossKind(adetr::ops::alignLossKindName(k)) == k, "name round trip of %s",
           adetr::ops::alignLossKindName(k));
  }
  EXPECT(std::string(adetr::ops::alignLossKindName(AlignLossKind::SdAlign)) == "sd-align", "SdAlign is 'sd-align'");
}

// VFL (VarifocalNet, mmdetection's varifocal_loss): a positive entry whose target is 0 or less
// is a negative, α_v·p^γ·BCE(p, 0), written here as a scalar formula; t > 0 stays t·BCE(p, t).
void testVflZeroTarget() {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const std::vector<double> xs = {-3.0, -0.5, 0.0, 0.7, 2.5, 30.0};
  for (const AlignLossParams& prm : {AlignLossParams{}, otherParams()}) {
    for (double t : {0.0, -0.25, 0.6}) {
      const int64_t n = static_cast<int64_t>(xs.size());
      auto x = at::tensor(xs, opt);
      auto target = at::full({n}, t, opt);
      auto positive = at::ones({n}, opt.dtype(at::kBool));
      auto r = adetr::ops::alignLossForwardBackward(x, target, positive, {}, AlignLossKind::Vfl, prm);
      auto neg = adetr::ops::alignLossForwardBackward(x, target, positive.logical_not(), {}, AlignLossKind::Vfl, prm);
      // The scalar formula, with −log p = softplus(−x) and −log(1 − p) = softplus(x) so that it
      // stays exact at x = 30.
      auto softplus = [](double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::fabs(v))); };
      auto f = [&](double xv) {
        const double p = 1 / (1 + std::exp(-xv));
        const double bce0 = softplus(xv);                                // BCE(p, 0) = −log(1 − p)
        const double bceT = t * softplus(-xv) + (1 - t) * softplus(xv);  // BCE(p, t)
        return t > 0 ? t * bceT : prm.vflAlpha * std::pow(p, prm.gamma) * bce0;
      };
      double want = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += f(xs[i]);
        // Gradient: central differences of the scalar formula.
        const double h = 1e-6;
        const double fd = (f(xs[i] + h) - f(xs[i] - h)) / (2 * h);
        EXPECT(close(r.gradLogits[i].item<double>(), fd, 1e-6, 1e-8), "vfl t=%g x=%g: grad %.12g vs %.12g", t, xs[i],
               r.gradLogits[i].item<double>(), fd);
      }
      EXPECT(close(r.loss.item<double>(), want, 1e-12, 1e-12), "vfl t=%g: loss %.17g vs scalar %.17g", t,
             r.loss.item<double>(), want);
      if (t <= 0) {
        EXPECT(
            close(r.loss.item<double>(), neg.loss.item<double>(), 1e-14, 0) && at::equal(r.gradLogits, neg.gradLogits),
            "vfl t=%g: a matched prediction with target <= 0 is a negative", t);
        EXPECT(r.loss.item<double>() > 0, "vfl t=%g: not zero (the old t·BCE)", t);
      }
      // The composed criterion formula agrees.
      auto xg = x.clone().requires_grad_(true);
      AlignLossParams tp;
      tp.gamma = prm.gamma;
      tp.vflAlpha = prm.vflAlpha;
      auto composed = adetr::train::classificationLossComposed(AlignLossKind::Vfl, xg, target, positive, tp);
      composed.backward();
      EXPECT(close(composed.item<double>(), want, 1e-12, 1e-12), "vfl t=%g: composed %.17g vs scalar %.17g", t,
             composed.item<double>(), want);
      EXPECT(maxRelDiff(xg.grad(), r.gradLogits, 1e-9) < 1e-10, "vfl t=%g: composed gradient", t);
    }
  }
}

void testTargets() {
  // The paper figure's example A (docs/numerical-contract.md §D.2): s = 0.2, IoU = 0.9 → q = 0.618; the group ranks by
  // q.
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  auto prob = at::tensor({0.2, 0.05, 0.6, 0.5, 1e-6}, opt);
  auto iou = at::tensor({0.9, 0.7, 0.8, 0.5, 1e-4}, opt);
  auto groups = at::tensor({4, 4, 4, 9, 9}, opt.dtype(at::kLong));
  auto r = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::Align, {});
  const double qa = std::pow(0.2, 0.25) * std::pow(0.9, 0.75);
  EXPECT(std::fabs(qa - 0.618) < 5e-4, "figure example A is %.4f", qa);
  EXPECT(close(r.quality[0].item<double>(), qa, 1e-14, 0), "quality A %.17g", r.quality[0].item<double>());
  const std::vector<int64_t> wantRank = {1, 2, 0, 0, 1};
  for (int i = 0; i < 5; ++i) {
    EXPECT(r.rank[i].item<int64_t>() == wantRank[i], "rank %d: %lld", i, (long long)r.rank[i].item<int64_t>());
    const double w = std::exp(-static_cast<double>(wantRank[i]) / 1.5);
    EXPECT(close(r.weight[i].item<double>(), w, 1e-14, 0), "weight %d", i);
    EXPECT(close(r.target[i].item<double>(), w * r.quality[i].item<double>(), 1e-14, 0), "target %d", i);
  }
  EXPECT(r.quality[4].item<double>() < 0.01, "Align does not clamp q");
  auto b = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::IaBce, {});
  EXPECT(b.quality[4].item<double>() == 0.01, "IA-BCE clamps q at 0.01");
  EXPECT(close(b.target[4].item<double>(), 0.01 * std::exp(-1 / 1.5), 1e-14, 0), "clamp happens before weighting");
  adetr::ops::AlignTargetParams noPrime;
  noPrime.primeWeights = false;
  auto c = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::IaBce, noPrime);
  EXPECT(at::equal(c.target, c.quality), "no prime weights: t = q");
  // SD-align: Align's unclamped q (TAL's t = s^0.25·u^0.75); prime weights only when asked for.
  auto sdPrime = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::SdAlign, {});
  EXPECT(at::equal(sdPrime.quality, r.quality) && at::equal(sdPrime.target, r.target), "sd-align quality = align's");
  auto sdPlain = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::SdAlign, noPrime);
  EXPECT(at::equal(sdPlain.target, r.quality) && sdPlain.target[4].item<double>() < 0.01, "sd-align: t = q, no clamp");
  expectArgError([&] { adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::Focal, {}); },
                 adetr::ArgError::Kind::Range, "kind:");
}

// SD-DETR's task alignment loss (docs/neighbour-methods.md §2.4), test SD-T5 (§3): the values for
// (s, u) → t = s^0.25·u^0.75 and the positive term |t − s|²·BCE(s, t), and the negative term
// s²·BCE(s, 0); the op (logit space) against the same scalar formula in probability space;
// γ is its exponent (qflBeta is not read); central finite differences with t held constant;
// saturated logits.
void testSdAlignValues() {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  auto logit = [](double s) { return std::log(s / (1 - s)); };
  // Probability space, plain logs (the documented notation).
  auto bce = [](double s, double t) { return -(t * std::log(s) + (1 - t) * std::log(1 - s)); };
  struct Pos {
    double s, u, t, term;
  };
  const Pos cases[] = {{0.2, 0.9, 0.617930, 0.188600}, {0.9, 0.2, 0.291295, 0.616009}, {0.5, 0.5, 0.5, 0.0}};
  std::vector<double> probs, ious;
  for (const Pos& c : cases) {
    probs.push_back(c.s);
    ious.push_back(c.u);
  }
  // The target from the targets helper: q unclamped, no prime weights (the criterion's call).
  adetr::ops::AlignTargetParams tp;
  tp.primeWeights = false;
  auto targets = adetr::ops::alignTargets(at::tensor(probs, opt), at::tensor(ious, opt),
                                          at::zeros({3}, opt.dtype(at::kLong)), AlignLossKind::SdAlign, tp);
  for (int i = 0; i < 3; ++i) {
    const Pos& c = cases[i];
    const double t = targets.target[i].item<double>();
    EXPECT(std::fabs(t - c.t) < 5e-7, "SD-T5 (%.1f, %.1f): t %.9f vs spec %.6f", c.s, c.u, t, c.t);
    EXPECT(close(t, std::pow(c.s, 0.25) * std::pow(c.u, 0.75), 1e-15, 0), "t = s^0.25·u^0.75, got %.17g", t);
    const double probSpace = std::pow(std::fabs(t - c.s), 2.0) * bce(c.s, t);
    EXPECT(std::fabs(probSpace - c.term) < 5e-7, "SD-T5 (%.1f, %.1f): scalar term %.9f vs spec %.6f", c.s, c.u,
           probSpace, c.term);
    auto r = adetr::ops::alignLossForwardBackward(at::tensor({logit(c.s)}, opt), at::tensor({t}, opt),
                                                  at::ones({1}, opt.dtype(at::kBool)), {}, AlignLossKind::SdAlign, {});
    EXPECT(close(r.loss.item<double>(), probSpace, 1e-12, 1e-15),
           "SD-T5 (%.1f, %.1f): op %.17g vs probability space %.17g", c.s, c.u, r.loss.item<double>(), probSpace);
  }
  // {s, the documented value, half a unit of its last printed digit}
  const double negs[][3] = {{0.2, 0.0089257, 5e-8}, {0.5, 0.173287, 5e-7}};
  for (const auto& n : negs) {
    const double probSpace = n[0] * n[0] * bce(n[0], 0.0);
    EXPECT(std::fabs(probSpace - n[1]) < n[2], "SD-T5 negative s=%.1f: %.9f vs spec %.7f", n[0], probSpace, n[1]);
    auto r = adetr::ops::alignLossForwardBackward(at::tensor({logit(n[0])}, opt), at::tensor({0.7}, opt),
                                                  at::zeros({1}, opt.dtype(at::kBool)), {}, AlignLossKind::SdAlign, {});
    EXPECT(close(r.loss.item<double>(), probSpace, 1e-12, 0), "SD-T5 negative s=%.1f: op %.17g vs %.17g", n[0],
           r.loss.item<double>(), probSpace);
  }

  // γ is TAL's exponent on both terms; qflBeta belongs to QFL alone.
  const std::vector<double> xs = {-6.0, -1.3, -0.2, 0.0, 0.4, 1.9, 5.0};
  const std::vector<double> ts = {0.3, 0.9, 0.05, 0.5, 0.62, 0.1, 0.99};
  const int64_t n = static_cast<int64_t>(xs.size());
  for (double gamma : {2.0, 1.7, 3.0}) {
    AlignLossParams prm;
    prm.gamma = gamma;
    prm.qflBeta = 0.5;
    auto softplus = [](double v) { return std::max(v, 0.0) + std::log1p(std::exp(-std::fabs(v))); };
    for (bool isPos : {true, false}) {
      auto f = [&](double x, double t) {
        const double p = 1 / (1 + std::exp(-x));
        const double b = t * softplus(-x) + (1 - t) * softplus(x);  // BCE(p, t)
        return isPos ? std::pow(std::fabs(t - p), gamma) * b : std::pow(p, gamma) * softplus(x);
      };
      auto positive = isPos ? at::ones({n}, opt.dtype(at::kBool)) : at::zeros({n}, opt.dtype(at::kBool));
      auto r = adetr::ops::alignLossForwardBackward(at::tensor(xs, opt), at::tensor(ts, opt), positive, {},
                                                    AlignLossKind::SdAlign, prm);
      double want = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += f(xs[i], ts[i]);
        const double h = 1e-6;
        const double fd = (f(xs[i] + h, ts[i]) - f(xs[i] - h, ts[i])) / (2 * h);  // t held constant (detached)
        EXPECT(close(r.gradLogits[i].item<double>(), fd, 1e-6, 1e-9), "sd-align γ=%g %s x=%g: grad %.12g vs fd %.12g",
               gamma, isPos ? "pos" : "neg", xs[i], r.gradLogits[i].item<double>(), fd);
      }
      EXPECT(close(r.loss.item<double>(), want, 1e-12, 1e-14), "sd-align γ=%g %s: loss %.17g vs scalar %.17g", gamma,
             isPos ? "pos" : "neg", r.loss.item<double>(), want);
    }
  }

  // Saturated logits ±30 (and beyond) stay finite, positive and negative, in float32 and float64.
  for (auto dtype : {at::kFloat, at::kDouble}) {
    auto x = at::tensor({-30.0, 30.0, -100.0, 100.0, -30.0, 30.0}, opt).to(dtype);
    auto t = at::tensor({0.6, 0.6, 0.0, 1.0, 0.0, 0.0}, opt);
    auto pos = at::tensor({1, 1, 1, 1, 0, 0}, opt.dtype(at::kLong)).to(at::kBool);
    auto r = adetr::ops::alignLossForwardBackward(x, t, pos, {}, AlignLossKind::SdAlign, {});
    EXPECT(std::isfinite(r.loss.item<double>()) && at::isfinite(r.gradLogits).all().item<bool>(),
           "sd-align %s: saturated logits give a finite loss and gradient", c10::toString(dtype));
  }
}

// SD-T6: TAL is IA-BCE with a |t − s|^γ factor on positives, k = 1 (no prime weights), and no
// 0.01 clamp of the target. Through the op: with the factor removed (γ = 0 on positives) and the
// targets of the same (s, u), sd-align equals ia-bce wherever q ≥ 0.01 and differs exactly by
// the clamp elsewhere; the negative terms are the same s^γ·BCE(s, 0).
void testSdAlignVsIaBce() {
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  auto prob = at::tensor({0.2, 0.9, 0.5, 0.03, 2e-3}, opt);
  auto iou = at::tensor({0.9, 0.2, 0.5, 0.7, 1e-3}, opt);  // the last pair has q ≈ 3.8e-3 < 0.01
  auto groups = at::arange(5, opt.dtype(at::kLong));
  adetr::ops::AlignTargetParams k1;
  k1.primeWeights = false;
  auto sd = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::SdAlign, k1);
  auto ia = adetr::ops::alignTargets(prob, iou, groups, AlignLossKind::IaBce, k1);
  auto logits = at::log(prob / (1 - prob));
  auto allPos = at::ones({5}, opt.dtype(at::kBool));
  AlignLossParams noFactor;
  noFactor.gamma = 0;
  auto a = adetr::ops::alignLossForwardBackward(logits, sd.target, allPos, {}, AlignLossKind::SdAlign, noFactor);
  auto b = adetr::ops::alignLossForwardBackward(logits, ia.target, allPos, {}, AlignLossKind::IaBce, {});
  auto c = adetr::ops::alignLossForwardBackward(logits, sd.target, allPos, {}, AlignLossKind::IaBce, {});
  for (int64_t i = 0; i < 5; ++i) {
    const bool clamped = sd.quality[i].item<double>() < 0.01;
    const double ga = a.gradLogits[i].item<double>(), gb = b.gradLogits[i].item<double>();
    if (clamped) {
      EXPECT(ia.target[i].item<double>() == 0.01, "entry %lld: IA-BCE clamps q", (long long)i);
      EXPECT(std::fabs(ga - gb) > 1e-3, "entry %lld: the clamp is the only difference, and it shows", (long long)i);
    } else {
      EXPECT(close(ga, gb, 1e-12, 1e-15), "entry %lld: γ = 0 sd-align gradient %.17g vs ia-bce %.17g", (long long)i, ga,
             gb);
    }
  }
  EXPECT(sd.quality[4].item<double>() < 0.01, "the test has a clamped entry");
  // Without the clamp (the same unclamped target) they agree everywhere, value and gradient.
  EXPECT(close(a.loss.item<double>(), c.loss.item<double>(), 1e-13, 0) &&
             maxRelDiff(a.gradLogits, c.gradLogits, 1e-12) < 1e-12,
         "γ = 0 sd-align %.17g vs ia-bce with the unclamped target %.17g", a.loss.item<double>(),
         c.loss.item<double>());
  EXPECT(!close(a.loss.item<double>(), b.loss.item<double>(), 1e-6, 0), "the clamped target changes IA-BCE");
  EXPECT(at::equal(sd.weight, at::ones_like(sd.weight)) && at::equal(sd.target, sd.quality),
         "k = 1: no prime weights, t = q");
  // Negatives: identical s^γ·BCE(s, 0) at the shared γ = 2.
  auto none = at::zeros({5}, opt.dtype(at::kBool));
  auto na = adetr::ops::alignLossForwardBackward(logits, sd.target, none, {}, AlignLossKind::SdAlign, {});
  auto nb = adetr::ops::alignLossForwardBackward(logits, ia.target, none, {}, AlignLossKind::IaBce, {});
  // (The kernels form the products in another order: equal to rounding.)
  EXPECT(close(na.loss.item<double>(), nb.loss.item<double>(), 1e-14, 0) &&
             maxRelDiff(na.gradLogits, nb.gradLogits, 1e-300) < 1e-14,
         "negatives: sd-align %.17g equals ia-bce %.17g", na.loss.item<double>(), nb.loss.item<double>());
  // With the factor (γ = 2) the positives differ from IA-BCE: the factor is really applied.
  auto full = adetr::ops::alignLossForwardBackward(logits, sd.target, allPos, {}, AlignLossKind::SdAlign, {});
  EXPECT(full.loss.item<double>() < 0.5 * c.loss.item<double>(), "|t − s|² < 1 shrinks every positive term");
}

void testCudaVsCpu() {
#ifdef ADETR_WITH_CUDA
  if (!torch::cuda::is_available()) {
    std::printf("CUDA vs CPU: skipped (no CUDA device)\n");
    return;
  }
  for (AlignLossKind kind : kKinds) {
    const Problem pr = makeProblem(2 * 900, 80, 3.0, true, 900 + static_cast<int>(kind));
    for (auto dtype : {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16}) {
      auto x = pr.logits.to(dtype);
      auto cpu = adetr::ops::alignLossForwardBackward(x, pr.target, pr.positive, pr.weights, kind, {});
      auto gpu = adetr::ops::alignLossForwardBackward(x.cuda(), pr.target.cuda(), pr.positive.cuda(), pr.weights.cuda(),
                                                      kind, {});
      const double rel = dtype == at::kDouble ? 1e-12 : 1e-5;
      EXPECT(close(gpu.loss.item<double>(), cpu.loss.item<double>(), rel, 0), "%s %s: CUDA loss %.12g vs CPU %.12g",
             adetr::ops::alignLossKindName(kind), c10::toString(dtype), gpu.loss.item<double>(),
             cpu.loss.item<double>());
      const double d = maxRelDiff(gpu.gradLogits.cpu(), cpu.gradLogits, 1e-3);
      const double gradTol = dtype == at::kDouble ? 1e-12 : (dtype == at::kFloat ? 1e-5 : 1e-2);
      EXPECT(d < gradTol, "%s %s: CUDA gradient max rel diff %.3g", adetr::ops::alignLossKindName(kind),
             c10::toString(dtype), d);
    }
  }
  std::printf("CUDA vs CPU: checked\n");
#else
  std::printf("CUDA vs CPU: skipped (built without CUDA)\n");
#endif
}

}  // namespace

int main() {
  return adetr::test::runTests("test_align_loss", [] {
    testAgainstNaive();
    testAgainstComposedAutograd();
    testSaturatedAndPrecisions();
    testDeterminismAndWeights();
    testErrors();
    testVflZeroTarget();
    testTargets();
    testSdAlignValues();
    testSdAlignVsIaBce();
    testCudaVsCpu();
  });
}
